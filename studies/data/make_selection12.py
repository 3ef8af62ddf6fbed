"""Regenerate ``selection12.json``: the 12-qubit selection QUBO of a real prediction.

The bundled default model (:func:`encoding.default_model`: PaperNet, 16 maps, trained on the
digits) explains the first held-out digit: :func:`encoding.capture` at its "reduce" layer, then
``SelectionQubo("cardinality", m=3, max_qubits=12)`` -- relevance "contribution", redundancy
"rectified-cosine", beta = 0.5, the 12 maps of largest relevance as candidates, and the penalty
lam of :func:`encoding.cardinality_penalty` (every minimiser chooses exactly 3 maps). Variables
are labelled ``map07`` etc. by channel index.

Run: ``python -m studies.data.make_selection12`` (trains the default model if it is not cached;
the training recipe is seeded, so the file is reproducible on the same torch build).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import dimod

from encoding import (CandidatesTruncatedWarning, SelectionQubo, capture, default_model,
                      load_digits_dataset)


def build(m: int = 3, n: int = 12) -> tuple[dimod.BinaryQuadraticModel, dict]:
    """The BQM and its metadata (model, image, class, settings)."""
    model, meta = default_model(progress=False)
    digits = load_digits_dataset()
    index = int(meta["test_indices"][0])
    cap = capture(model, digits.images[index:index + 1], model.target_layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CandidatesTruncatedWarning)
        qubo = SelectionQubo("cardinality", m=m, max_qubits=n).fit(
            cap.activations[0], cap.gradients[0], image_id=f"digits:{index}",
            target=int(cap.targets[0]))
    bqm = qubo.bqm_.relabel_variables({k: f"map{k:02d}" for k in qubo.bqm_.variables},
                                      inplace=False)
    info = {**qubo.metadata_, "label": int(digits.labels[index]),
            "model": meta["config"], "model_test_accuracy": meta["test_accuracy"]}
    return bqm, info


def main() -> None:
    bqm, info = build()
    doc = {
        "info": {
            "description": "12-qubit choose-3-of-12 feature-map selection QUBO of a digit "
                           "explained by the bundled default model",
            "generator": "python -m studies.data.make_selection12",
            **info,
        },
        "bqm": bqm.to_serializable(),
    }
    out = Path(__file__).with_name("selection12.json")
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
