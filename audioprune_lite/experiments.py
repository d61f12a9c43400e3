"""The book's standard experiment set-up: default features, and models trained once and cached.

Chapter 2 trains the baseline through :func:`trained_baseline`; chapters 3 to 7 call it
again and get the same model back from the cache instead of training it anew. A cached
model is keyed by a hash of everything it depends on (the training and validation data,
the architecture and the training settings), so a change to any of them retrains.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import data, models, synthetic
from . import train as train_module
from .features import LogMelConfig, extract
from .engine import Run
from .models import DCASE21Baseline
from .store import atomic_write_text, cache_home, code_fingerprint, fingerprint
from .train import History, fit, load_model, location_split, save_model

__all__ = ["BASELINE_TRAINING", "SceneFeatures", "baseline_run", "cached_fit", "default_features",
           "fit_run", "trained_baseline"]

BASELINE_TRAINING = {"epochs": 100, "patience": 10, "lr": 1e-3, "batch_size": 32, "seed": 0}
"""The book's training settings for the baseline: Adam at the paper's learning rate, batch
32, and early stopping: training stops once the validation loss has not improved for 10
epochs (at most 100), so the baseline has converged before anything is compared with it.
On the offline scenes that is 40 to 60 epochs, under a minute on two CPU cores."""


@dataclass
class SceneFeatures:
    """Log-mel features and labels of the three splits the chapters use.

    Attributes
    ----------
    X_train, y_train : numpy.ndarray
        Training features (N, 1, n_mels, frames) and labels, the validation split removed.
    X_val, y_val : numpy.ndarray
        Validation split, carved from the training split by location (TAU) or fold (ESC-50).
    X_eval, y_eval : numpy.ndarray
        The evaluation split (reported, never used to choose anything).
    train, val, evaluate : pandas.DataFrame
        The matching rows of :func:`audioprune_lite.data.load_scenes` (or
        :func:`audioprune_lite.data.load_esc50`).
    classes : list of str
        The class names; a label is a position in this list.
    seen, unseen : list of str
        Devices of the evaluation split present / absent in training (empty for a data set
        without devices, such as ESC-50).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    train: pd.DataFrame
    val: pd.DataFrame
    evaluate: pd.DataFrame
    classes: list
    seen: list
    unseen: list


def default_features(root=None, config: LogMelConfig = LogMelConfig(), progress: bool = True,
                     val_fraction: float = 0.2, seed: int = 0,
                     duration: float | None = None) -> SceneFeatures:
    """Features of a data set (by default the book's offline scenes), split three ways.

    A TAU-layout data set (the offline scenes, TAU 2020 Mobile) keeps its own training and
    evaluation splits, and validation locations are carved from training with
    :func:`audioprune_lite.train.location_split`. ESC-50 is split by its own five folds,
    which keep the clips cut from one recording together: folds 1-3 train, fold 4
    validates, fold 5 evaluates.

    Used by: Chapters 2, 3, 5, 6 and 8, and the command line.

    Parameters
    ----------
    root : str or Path, optional
        A data set in the TAU 2020 Mobile or the ESC-50 layout; by default
        :func:`audioprune_lite.synthetic.default_scenes` (made on first use).
    config : LogMelConfig
    progress : bool
    val_fraction, seed :
        Passed to :func:`audioprune_lite.train.location_split` (TAU layout only).
    duration : float, optional
        Trim or pad every clip to this many seconds (e.g. shorter TAU clips for a quick run).

    Returns
    -------
    SceneFeatures

    Raises
    ------
    DataNotFoundError
        ``root`` holds neither layout; the message says how to get data.
    """
    root = synthetic.default_scenes(progress=progress) if root is None else root
    if data.layout_of(root) == "esc50":
        table = data.load_esc50(root)
        training = table[table["fold"] < 5].reset_index(drop=True)
        evaluate = table[table["fold"] == 5].reset_index(drop=True)
        is_val = (training["fold"] == 4).to_numpy()
        train_index, val_index = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        classes = list(table.sort_values("target").drop_duplicates("target")["category"])
        seen, unseen = [], []
    else:
        training = data.load_scenes(root, "train")
        evaluate = data.load_scenes(root, "evaluate")
        train_index, val_index = location_split(training, val_fraction, seed)
        classes = list(data.SCENE_CLASSES)
        seen, unseen = data.device_split(training, evaluate)
    cache_dir = cache_home() / "features"
    X, y = extract(training, config, cache_dir=cache_dir, progress=progress, duration=duration)
    X_eval, y_eval = extract(evaluate, config, cache_dir=cache_dir, progress=progress,
                             duration=duration)
    return SceneFeatures(
        X_train=X[train_index], y_train=y[train_index], X_val=X[val_index], y_val=y[val_index],
        X_eval=X_eval, y_eval=y_eval,
        train=training.iloc[train_index].reset_index(drop=True),
        val=training.iloc[val_index].reset_index(drop=True),
        evaluate=evaluate, classes=classes, seen=seen, unseen=unseen,
    )


def fit_run(model, train, val, *, name: str, label: str | None = None, cache_dir=None,
            progress: bool = True, device=None, **fit_settings) -> Run:
    """The training of ``model`` as a :class:`~audioprune_lite.engine.Run`: its cache entry and its task.

    The cache file is named by ``name`` and a hash of the training and validation arrays,
    the model's class, ``config`` and initial weights, ``fit_settings``, the code that
    trains (:mod:`audioprune_lite.train`, :mod:`audioprune_lite.models`) and
    :func:`audioprune_lite.train.training_environment` (torch's version and thread count), so
    a change to any of them trains again. The task trains a copy of ``model`` with
    :func:`audioprune_lite.train.fit` and returns ``(model, history)``.

    Used by: :func:`cached_fit`, :func:`baseline_run` and
    :func:`audioprune_lite.reproduce.pruning_study`.

    Parameters
    ----------
    model : torch.nn.Module
        A model of :mod:`audioprune_lite.models`, untrained or pruned; it is not changed.
    train, val : tuple (X, y)
    name : str
        A readable prefix for the cache files.
    label : str, optional
        What the run is, for progress lines (default ``name``).
    cache_dir : str or Path, optional
        Default ``cache_home() / "models"``.
    progress : bool
        Show the training's progress bar.
    device : str, optional
        Where to train; by default a GPU when present (not part of the cache key).
    **fit_settings
        Passed to ``fit`` (epochs, lr, batch_size, seed, ...).

    Returns
    -------
    Run
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_home() / "models"
    initial = [v.cpu().numpy() for v in model.state_dict().values()]
    code = (code_fingerprint(train_module, models), train_module.training_environment())
    key = fingerprint(train[0], train[1], val[0], val[1], type(model).__name__, model.config,
                      *initial, fit_settings, code)
    task = functools.partial(_fit, progress=progress, device=device, settings=fit_settings)
    return Run(label or name, cache_dir / f"{name}-{key}.pt", task, (model, train, val),
               save=_save_trained, load=_load_trained)


def _fit(model, train, val, *, progress: bool, device, settings: dict):
    """The task of :func:`fit_run`: a copy of ``model`` trained, on the CPU in eval mode, and its history."""
    model = copy.deepcopy(model)
    history = fit(model, train, val, progress=progress, device=device, **settings)
    return model.cpu().eval(), history


def cached_fit(model, train, val, *, name: str, cache_dir=None, progress: bool = True,
               device=None, **fit_settings):
    """Train ``model`` with :func:`audioprune_lite.train.fit`, or load the result of the same training.

    The cache entry is :func:`fit_run`'s; an entry that cannot be read is trained again.

    Used by: :func:`trained_baseline`, Chapter 9 and the command line's ``finetune``.

    Parameters
    ----------
    model : torch.nn.Module
        A model of :mod:`audioprune_lite.models`, untrained or pruned; the trained model is
        a copy.
    train, val : tuple (X, y)
    name : str
        A readable prefix for the cache files.
    cache_dir : str or Path, optional
        Default ``cache_home() / "models"``.
    progress : bool
    device : str, optional
        Where to train; by default a GPU when present (not part of the cache key).
    **fit_settings
        Passed to ``fit`` (epochs, lr, batch_size, seed, ...).

    Returns
    -------
    model : torch.nn.Module
        The trained model, in eval mode on the CPU.
    history : History
        As ``fit`` returned it when the model was trained.
    cached : bool
        Whether it came from the cache.
    """
    (trained, history), was_cached = fit_run(model, train, val, name=name, cache_dir=cache_dir,
                                             progress=progress, device=device,
                                             **fit_settings).here()
    return trained, history, was_cached


def _save_trained(trained, path: Path) -> None:
    """The history beside the model, written first: an entry is complete when its model file exists."""
    model, history = trained
    atomic_write_text(path.with_suffix(".json"), json.dumps(history.to_dict()))
    save_model(model, path)


def _load_trained(path: Path):
    return load_model(path), History(**json.loads(path.with_suffix(".json").read_text()))


def baseline_run(features: SceneFeatures, progress: bool = True, **training) -> Run:
    """The training of the book's baseline as a :class:`~audioprune_lite.engine.Run` (see :func:`trained_baseline`).

    Used by: :func:`trained_baseline` and :func:`audioprune_lite.reproduce.reproduce`.
    """
    settings = {**BASELINE_TRAINING, **training}
    torch.manual_seed(settings["seed"])  # the initial weights are part of the cache key
    model = DCASE21Baseline(n_classes=len(features.classes), n_mels=features.X_train.shape[2])
    model.set_input_statistics(features.X_train)
    return fit_run(model, (features.X_train, features.y_train), (features.X_val, features.y_val),
                   name="dcase21-baseline", label="baseline", progress=progress, **settings)


def trained_baseline(features: SceneFeatures | None = None, progress: bool = True, **training):
    """The DCASE 2021 baseline trained on the book's default data with :data:`BASELINE_TRAINING`.

    Trained once (about a minute on two CPU cores) and then read from the cache.

    Used by: Chapter 2 (where it is trained and studied), Chapters 3 to 6, 8 and 9, and the
    command line.

    Parameters
    ----------
    features : SceneFeatures, optional
        Default :func:`default_features`.
    progress : bool
    **training
        Settings that replace those of :data:`BASELINE_TRAINING` (e.g. ``epochs=200`` on
        real data, as the command line's ``--epochs`` does).

    Returns
    -------
    model, history, cached
        As :func:`cached_fit` returns them.
    """
    features = default_features(progress=progress) if features is None else features
    (model, history), was_cached = baseline_run(features, progress, **training).here()
    return model, history, was_cached
