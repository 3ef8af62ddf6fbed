"""Fingerprints of what a study's problems are built from (private).

A problem instance depends on the config (the file records its hash), on the model's weights
and on the images it explains. Both are hashed here, bit for bit, and stored in every
instance's ``spec``, so that a run compares them before it skips anything: a file holds the
problems of one model and one version of its images.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["weights_sha256", "images_sha256"]


def weights_sha256(model) -> str:
    """SHA-256 of a model's ``state_dict``: every parameter and buffer, by name, dtype, shape
    and bytes (on the CPU, contiguous), in name order: any change of a value, name, dtype or
    shape changes it. The model's code is not hashed; a run also compares the problems it
    builds with the stored ones, which a changed architecture changes."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds it exactly
            t = t.float()
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def images_sha256(images, labels, indices) -> str:
    """SHA-256 of the explained images (float32 bytes, in order), their labels and their
    positions in the held-out set."""
    h = hashlib.sha256()
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    h.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(indices, dtype=np.int64).tobytes())
    return h.hexdigest()
