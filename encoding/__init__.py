"""encoding -- the CNN side of qaxai: models and data, feature-map capture, relevance and
redundancy, and the selection QUBO handed to the physics side as a dimod BQM.

>>> from encoding import default_model, load_digits_dataset, capture, SelectionQubo
>>> from encoding import ExactGroundStateSolver, selections
>>> model, meta = default_model()                            # trained once, then cached
>>> digits = load_digits_dataset()
>>> cap = capture(model, digits.images[:1], model.target_layer)
>>> qubo = SelectionQubo("cardinality", m=4).fit(cap.activations[0], cap.gradients[0])
>>> [len(selection) for selection in selections(ExactGroundStateSolver().sample(qubo.bqm_))]
[4]
"""

from . import metrics
from ._cam import BaseCAM, GradCAM, GradCAMPlusPlus, heatmaps_from_weights
from ._capture import Capture, ablation_relevance, capture, check_scores, resolve_layer
from ._device import model_device, resolve_device
from ._data import ImageDataset, load_digits_dataset
from ._exact import ExactGroundStateSolver
from ._ground import GroundStateSolver
from ._loaders import load_image_folder, load_mnist, load_stl10, missing_data_files
from ._factory import check_classifier, model_from_factory
from ._models import GapNet, InputNormalization, PaperNet, build_model
from ._resnet import ResNet18, ResNet18Features, load_resnet18_state_dict
from ._qubocam import QuboCAM
from ._qubo import cardinality_bqm, cardinality_penalty, normalise_relevance, paper_bqm
from ._scores import redundancy, relevance
from ._selection import CandidatesTruncatedWarning, SelectionQubo
from ._solvers import SAMPLERS, get_sampler, selections
from ._xai import METHODS, Explanations, XaiStudy, explain, select_correct, xai_study
from ._train import (DEFAULT_RECIPE, TrainResult, cache_dir, dataset_fingerprint,
                     default_model, evaluate, load_checkpoint, save_checkpoint, train,
                     trained_model)
from .exceptions import DataError, EncodingError

__all__ = [
    "Capture", "ablation_relevance", "capture", "resolve_layer",
    "ImageDataset", "load_digits_dataset", "load_image_folder", "load_mnist", "load_stl10",
    "missing_data_files",
    "GapNet", "PaperNet", "build_model", "InputNormalization",
    "ResNet18", "ResNet18Features", "load_resnet18_state_dict",
    "model_from_factory", "check_classifier",
    "DEFAULT_RECIPE", "TrainResult", "cache_dir", "dataset_fingerprint", "default_model", "evaluate",
    "load_checkpoint", "save_checkpoint", "train", "trained_model",
    "relevance", "redundancy", "normalise_relevance",
    "paper_bqm", "cardinality_bqm", "cardinality_penalty",
    "SelectionQubo", "CandidatesTruncatedWarning",
    "ExactGroundStateSolver", "GroundStateSolver", "SAMPLERS", "get_sampler", "selections",
    "BaseCAM", "GradCAM", "GradCAMPlusPlus", "QuboCAM", "heatmaps_from_weights",
    "METHODS", "Explanations", "XaiStudy", "explain", "select_correct", "xai_study", "metrics",
    "EncodingError", "DataError", "check_scores", "model_device", "resolve_device",
]
