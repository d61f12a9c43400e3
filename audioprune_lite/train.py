"""Training, evaluating, saving and loading the book's networks.

Chapter 2 trains the DCASE 2021 baseline with :func:`fit`; chapter 4 fine-tunes pruned
networks with it; chapter 5 trains on fewer examples (:func:`stratified_subset`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from . import models
from .store import atomic_write

__all__ = [
    "History",
    "evaluate",
    "fit",
    "load_model",
    "location_split",
    "pick_device",
    "predict_proba",
    "save_model",
    "stratified_subset",
    "torch_threads",
    "training_environment",
]

SAVE_FORMAT = "audioprune_lite.model/1"


@dataclass
class History:
    """What happened during :func:`fit`, epoch by epoch.

    Attributes
    ----------
    train_loss, val_loss, val_accuracy : list of float
        Mean cross-entropy on the training batches (with dropout), and cross-entropy and
        accuracy on the validation set, one value per epoch.
    best_epoch : int
        The epoch (counted from 1) whose weights were restored: lowest validation loss.
    wall_time_s : float
        Seconds the whole call took.
    examples_seen : int
        Training examples processed (epochs run x training set size).
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    best_epoch: int = 0
    wall_time_s: float = 0.0
    examples_seen: int = 0

    def as_frame(self) -> pd.DataFrame:
        """The per-epoch values as a table indexed by epoch (from 1). Used by:
        :func:`audioprune_lite.plots.plot_history`."""
        frame = pd.DataFrame({"train_loss": self.train_loss, "val_loss": self.val_loss,
                              "val_accuracy": self.val_accuracy})
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return asdict(self)


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """PyTorch's CPU threads set to ``threads`` inside a ``with`` block, restored after it.

    ``None`` leaves the setting as it is.

    Used by: :func:`audioprune_lite.metrics.measure_latency`,
    :func:`audioprune_lite.deploy.latency_table` and the engines of :mod:`audioprune_lite.engine`.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def training_environment() -> dict:
    """What besides the data, the model and the settings decides the weights :func:`fit` gives.

    PyTorch's version, and its number of CPU threads: the threads split sums differently,
    so training with 1 and with 2 threads ends with weights that differ slightly (about
    0.004 at most here). Part of every cached training run's key.

    Used by: :func:`audioprune_lite.experiments.cached_fit` and
    :func:`audioprune_lite.fewer_examples.run_fewer_examples`.

    Returns
    -------
    dict
        ``"torch"`` (version string) and ``"threads"`` (``torch.get_num_threads()``).
    """
    return {"torch": torch.__version__, "threads": torch.get_num_threads()}


def pick_device(device=None) -> torch.device:
    """The device to train on: ``device`` if given, else CUDA, else Apple MPS, else the CPU.

    Used by: :func:`fit`.
    """
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def location_split(table: pd.DataFrame, fraction: float = 0.2, seed: int = 0):
    """Carve a validation split out of a training split by recording location.

    Whole locations (the ``identifier`` column) go to validation, about ``fraction`` of
    each class's locations and at least one per class that has two or more, so that the
    validation accuracy measures generalisation to new places, as the evaluation split
    does. Checkpoints are chosen on this split, never on the evaluation split: choosing
    on the data you report on makes the report optimistic.

    Used by: :func:`audioprune_lite.experiments.default_features`.

    Parameters
    ----------
    table : pandas.DataFrame
        A training split from :func:`audioprune_lite.data.load_scenes` (columns
        ``identifier`` and ``label``).
    fraction : float
        Share of each class's locations for validation, in (0, 1).
    seed : int

    Returns
    -------
    train_index, val_index : numpy.ndarray
        Row positions in ``table`` (int64, sorted), disjoint, covering every row.

    Raises
    ------
    ValueError
        ``fraction`` outside (0, 1), or no class with two locations to split.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    location_class = table.groupby("identifier", sort=True)["label"].first()
    validation = []
    for _, locations in location_class.groupby(location_class, sort=True):
        names = locations.index.to_numpy()
        if len(names) >= 2:
            count = min(len(names) - 1, max(1, round(fraction * len(names))))
            validation.extend(rng.choice(names, size=count, replace=False))
    if not validation:
        raise ValueError("no class has two recording locations in the training split, so no "
                         "validation split can be carved by location: use a larger data set")
    is_val = table["identifier"].isin(validation).to_numpy()
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def stratified_subset(y, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a class-stratified random subset of the examples with labels ``y``.

    Each class keeps ``fraction`` of its examples, rounded so that the total is
    ``round(fraction * len(y))`` and every class is within one example of its share: the
    examples lost to rounding down go to the classes with the largest remainders, so a
    class whose share is under one example can be left out entirely. No index repeats;
    the same ``seed`` gives the same subset.

    Used by: Chapter 5 (fine-tuning with fewer examples).

    Parameters
    ----------
    y : array-like of int
        Class labels.
    fraction : float
        In [0, 1].
    seed : int

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``y``.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    shares = fraction * counts
    take = np.floor(shares).astype(int)
    # hand the examples lost to rounding down to the classes with the largest remainders
    missing = round(fraction * len(y)) - take.sum()
    take[np.argsort(-(shares - take), kind="stable")[:missing]] += 1
    chosen = [rng.choice(np.flatnonzero(y == c), size=k, replace=False)
              for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)


def _n_classes(model: nn.Module) -> int:
    config = getattr(model, "config", {})
    if "n_classes" in config:
        return config["n_classes"]
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features


def _loader(data, batch_size: int, shuffle: bool, seed: int, n_classes: int, name: str) -> DataLoader:
    """A DataLoader from an ``(X, y)`` pair (labels checked) or an existing DataLoader."""
    if isinstance(data, DataLoader):
        return data
    X, y = data
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"{name}: need one label per example, got {len(y)} labels for {len(X)} inputs")
    if len(y) == 0:
        raise ValueError(f"{name}: no examples")
    outside = y[(y < 0) | (y >= n_classes)]
    if outside.size:
        raise ValueError(f"{name}: labels must be in range({n_classes}) for this network, "
                         f"found {sorted(set(outside.tolist()))[:5]}")
    dataset = TensorDataset(torch.as_tensor(np.asarray(X), dtype=torch.float32),
                            torch.as_tensor(y, dtype=torch.int64))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _run_epoch(model, loader, device, optimiser=None) -> tuple[float, float]:
    """One pass over ``loader``: training when an optimiser is given. Returns (mean loss, accuracy)."""
    loss_function = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct, count = 0.0, 0, 0
    model.train(optimiser is not None)
    with torch.set_grad_enabled(optimiser is not None):
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            logits = model(X)
            loss = loss_function(logits, y)
            if optimiser is not None:
                optimiser.zero_grad()
                (loss / len(y)).backward()
                optimiser.step()
            total_loss += loss.item()
            correct += (logits.argmax(dim=1) == y).sum().item()
            count += len(y)
    return total_loss / count, correct / count


def fit(model: nn.Module, train, val, *, epochs: int, lr: float = 1e-3, batch_size: int = 32,
        seed: int = 0, patience: int | None = None, device=None, progress: bool = True) -> History:
    """Train ``model`` with Adam and cross-entropy, keeping the weights of its best validation epoch.

    After every epoch the validation loss is measured; at the end the weights of the
    epoch with the lowest validation loss are restored (so more epochs never hurt the
    returned model, they only cost time). With ``patience``, training also stops early,
    once the validation loss has not improved for ``patience`` epochs in a row: the best
    epoch is then ``patience`` epochs before the last, which shows that the network has
    converged (on this validation split) rather than run out of epochs. The same ``seed``
    on the CPU gives the same weights. The model is trained in place and left on ``device``.

    Used by: Chapter 2 (the baseline), Chapters 4, 5, 6 and 9 (fine-tuning pruned networks)
    and :func:`audioprune_lite.experiments.fit_run` (every cached training run).

    Parameters
    ----------
    model : torch.nn.Module
    train, val : tuple (X, y) or torch.utils.data.DataLoader
        ``X`` float array (N, 1, n_mels, frames), ``y`` int class indices. Never pass the
        evaluation split as ``val``: see :func:`location_split`.
    epochs : int
        Passes over the training data (at most, with ``patience``).
    lr : float
        Adam's learning rate (the baseline's 0.001).
    batch_size : int
    seed : int
        Seeds weight initialisation order, shuffling and dropout.
    patience : int, optional
        Stop after this many epochs without a lower validation loss (early stopping).
        ``None`` runs all ``epochs``.
    device : str or torch.device, optional
        ``None`` picks CUDA or MPS when present (:func:`pick_device`).
    progress : bool
        A progress bar over epochs with the latest losses.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        Before any training: labels outside ``range(n_classes)``, a label count that does
        not match, or NaN or infinite values in an ``X`` (a DataLoader is not inspected).
        After training: a validation loss that was NaN in every epoch, so that no epoch's
        weights can be restored (the model is left as the last epoch made it). Epochs whose
        validation loss is NaN are never chosen as the best.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 epoch (or None), got {patience}")
    for name, data in (("train", train), ("val", val)):
        if not isinstance(data, DataLoader):
            non_finite = ~np.isfinite(np.asarray(data[0]))
            if non_finite.any():
                first = np.unravel_index(non_finite.argmax(), non_finite.shape)[0]
                raise ValueError(f"{name}: non-finite inputs (NaN or infinite) in "
                                 f"{non_finite.sum()} places, the first in example {first}")
    n_classes = _n_classes(model)
    train_loader = _loader(train, batch_size, True, seed, n_classes, "train")
    val_loader = _loader(val, 256, False, seed, n_classes, "val")
    device = pick_device(device)
    torch.manual_seed(seed)
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    best_loss, best_state = float("inf"), None
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        train_loss, _ = _run_epoch(model, train_loader, device, optimiser)
        val_loss, val_accuracy = _run_epoch(model, val_loader, device)
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        if val_loss < best_loss:
            best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
            history.best_epoch = epoch
        bar.set_postfix(train_loss=f"{train_loss:.3f}", val_loss=f"{val_loss:.3f}",
                        val_acc=f"{val_accuracy:.3f}")
        if patience is not None and epoch - history.best_epoch >= patience:
            break
    bar.close()
    if best_state is None:
        losses = ", ".join(f"{loss:.3g}" for loss in history.train_loss)
        raise ValueError(f"validation loss was NaN in every epoch ({epochs}), so no epoch's "
                         f"weights can be restored (training loss by epoch: {losses}). Training "
                         f"diverged: learning rate ({lr}) too high? non-finite inputs?")
    model.load_state_dict(best_state)
    model.eval()
    history.wall_time_s = time.perf_counter() - start
    history.examples_seen = len(history.train_loss) * len(train_loader.dataset)
    return history


def predict_proba(model: nn.Module, X, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (softmax of the logits) in eval mode, shape (N, n_classes).

    Used by: :func:`evaluate`.
    """
    parameter = next(model.parameters())
    model.eval()
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size].to(parameter.device))
            outputs.append(torch.softmax(logits, dim=1).cpu())
    return torch.cat(outputs).numpy()


def evaluate(model: nn.Module, X, y, devices=None) -> dict:
    """Accuracy, log loss, per-class accuracy and confusion matrix of ``model`` on ``(X, y)``.

    Used by: Chapters 2, 3, 5, 7 and 9, and the command line.

    Parameters
    ----------
    model : torch.nn.Module or object with a ``predict_proba(X)`` method
        A network, or e.g. an ONNX file in an :class:`audioprune_lite.deploy.OnnxModel`.
    X : array (N, 1, n_mels, frames)
    y : array of int (N,)
    devices : array of str (N,), optional
        The recording device of each example (``source_label``); adds per-device accuracy.

    Returns
    -------
    dict
        ``accuracy`` (fraction correct), ``log_loss`` (mean cross-entropy in nats, the
        DCASE challenge's second metric), ``per_class_accuracy`` (array, one per class),
        ``confusion`` (int array, rows = true class, columns = predicted class),
        ``predictions`` (int array), and ``per_device_accuracy`` (dict) when ``devices``
        is given.
    """
    y = np.asarray(y)
    probabilities = model.predict_proba(X) if hasattr(model, "predict_proba") else predict_proba(model, X)
    n_classes = probabilities.shape[1]
    predictions = probabilities.argmax(axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y, predictions), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.full(n_classes, np.nan),
                          where=totals > 0)
    result = {
        "accuracy": float((predictions == y).mean()),
        "log_loss": float(-np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1)).mean()),
        "per_class_accuracy": per_class,
        "confusion": confusion,
        "predictions": predictions,
    }
    if devices is not None:
        devices = np.asarray(devices)
        result["per_device_accuracy"] = {
            str(d): float((predictions[devices == d] == y[devices == d]).mean())
            for d in sorted(set(devices.tolist()))
        }
    return result


def save_model(model: nn.Module, path) -> Path:
    """Write a model's architecture and weights to ``path`` atomically.

    The file holds the class name, its ``config`` and the ``state_dict``; it is written
    under a temporary name and renamed, so an interrupted save never leaves a broken file.

    Used by: :func:`audioprune_lite.experiments.cached_fit` and the command line.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    if not hasattr(model, "config"):
        raise ValueError(f"{type(model).__name__} has no config: only audioprune_lite.models can be saved")
    payload = {"format": SAVE_FORMAT, "architecture": type(model).__name__,
               "config": dict(model.config),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    buffer = io.BytesIO()  # serialised first, so that a full disk is an OSError naming `path`
    torch.save(payload, buffer)
    atomic_write(path, lambda file: file.write(buffer.getbuffer()))
    return path


def load_model(path) -> nn.Module:
    """Read a model written by :func:`save_model` (safely: ``torch.load(weights_only=True)``).

    Used by: :func:`audioprune_lite.experiments.cached_fit` and the command line.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a model saved by :func:`save_model`, it is damaged (its
        architecture, settings and weights do not fit together), or it holds NaN or
        infinite weights. The message is one line naming ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is not its own
        raise ValueError(f"{path} is not a model saved by audioprune_lite.train.save_model "
                         f"({_first_line(error)})") from error
    if not isinstance(payload, dict) or payload.get("format") != SAVE_FORMAT:
        raise ValueError(f"{path} is not a model saved by audioprune_lite.train.save_model")
    architecture = getattr(models, str(payload.get("architecture")), None)
    if not isinstance(architecture, type) or not issubclass(architecture, nn.Module):
        raise ValueError(f"{path} names an unknown architecture {payload.get('architecture')!r}")
    try:
        model = architecture(**payload["config"])
        model.load_state_dict(payload["state_dict"])
    except Exception as error:  # a missing key, a wrong setting or a wrong shape
        raise ValueError(f"{path} is a damaged model file ({_first_line(error)}); save it "
                         "again or train it again") from error
    broken = [name for name, value in model.state_dict().items()
              if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise ValueError(f"{path} holds NaN or infinite weights (in {', '.join(broken)}); "
                         "it cannot be used: train it again, e.g. with a lower learning rate")
    model.eval()
    return model


def _first_line(error: Exception, width: int = 160) -> str:
    """``Kind: message`` on one line of at most about ``width`` characters.

    Torch's messages can run to dozens of lines; a first line that ends in a colon is
    followed by the next one (``Error(s) in loading state_dict ...: Missing key(s) ...``).
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines or [""])[0]
    text = f"{type(error).__name__}: {text}".rstrip(": ")
    return text if len(text) <= width else text[:width - 3] + "..."
