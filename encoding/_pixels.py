"""One image file's pixels as floats in [0, 1], scaled by the file's own bit depth (private)."""

from __future__ import annotations

import numpy as np

from .exceptions import DataError

__all__ = ["pixels", "IMAGE_SUFFIXES"]

#: file suffixes read as images
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}

#: PIL modes of one integer channel wider than 8 bits, and their full scale
_WIDE_MODES = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0,
               "I": 65535.0}
#: PIL modes with an alpha channel (composited over black)
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
#: PIL modes converted by PIL itself (8 bits per channel, or bilevel)
_EIGHT_BIT_MODES = {"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


def pixels(im, mode: str, path) -> np.ndarray:
    """One image's pixels as float32 in [0, 1], ``(H, W)`` for mode "L" or ``(H, W, 3)`` for
    "RGB", scaled by the image's own bit depth.

    - 8-bit modes (L, P, RGB, CMYK, ...): converted by PIL, divided by 255.
    - 16-bit grey (``I;16`` and its byte orders) and 32-bit integer grey (``I``, how PIL opens
      16-bit PNGs): divided by 65535; an ``I`` image with values outside 0..65535 is refused.
    - 32-bit float grey (``F``): taken as it is; values outside [0, 1] are refused.
    - With alpha (RGBA, LA, PA, a palette with transparency): composited over black, so a
      transparent pixel reads as 0 whatever colour it stores.

    Grey sources are repeated to three channels for "RGB"; colour sources are reduced to grey
    for "L" with PIL's ITU-R 601-2 luma. Any other mode is refused by name.

    Raises
    ------
    DataError
        A mode qaxai does not read, or values outside its range; names the file and the mode.
    """
    from PIL import Image

    src = im.mode
    if src in _WIDE_MODES or src == "F":
        grey = np.asarray(im, dtype=np.float64)
        if src == "F":
            full, rule = 1.0, "a float image must hold values in [0, 1]"
        else:
            full, rule = _WIDE_MODES[src], "an integer image must hold values in 0..65535"
        if grey.size and (not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > full):
            raise DataError(f"image {str(path)!r} (PIL mode {src!r}) holds values "
                            f"{grey.min():g}..{grey.max():g}; {rule}. Save it as 8- or 16-bit "
                            "PNG.")
        grey = (grey / full).astype(np.float32)
        return grey if mode == "L" else np.repeat(grey[..., None], 3, axis=2)
    if src in _ALPHA_MODES or (src == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    elif src not in _EIGHT_BIT_MODES:
        raise DataError(f"image {str(path)!r} has PIL mode {src!r}, which qaxai does not read "
                        f"(it reads {sorted(_EIGHT_BIT_MODES | set(_WIDE_MODES) | _ALPHA_MODES | {'F'})}"
                        "); save it as 8- or 16-bit PNG.")
    return np.asarray(im.convert(mode), dtype=np.float32) / 255.0
