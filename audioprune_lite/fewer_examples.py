"""Fine-tuning with fewer examples: the papers' study, run on the book's data.

The papers prune C1, C2 and C3 of the DCASE 2021 baseline together, as many filters per
layer as the greedy cosine pass removes, and fine-tune the pruned network on 100, 75, 50,
25 and 10 % of the training data; 0 % means no fine-tuning at all. They compare three
starting points of the same small architecture: the cosine-pruned weights, the l1-pruned
weights (the same number of filters per layer, chosen by l1 norm), and random weights.
:func:`run_fewer_examples` runs that grid over several seeds, records each run's accuracy,
log loss, wall time and energy (:func:`audioprune_lite.carbon.track`), and caches every
run on disk, keyed by a hash of everything it depends on: re-running trains nothing, and
a changed input retrains only the runs it affects.

Used by: Chapter 5 (the study) and Chapter 6 (the energy of its runs).
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import carbon, models
from . import train as train_module
from .experiments import default_features, trained_baseline
from .metrics import count_params
from .pruning import prune_model, pruning_plans
from .store import atomic_write, cache_home, cached, code_fingerprint, fingerprint
from .train import evaluate, fit, stratified_subset

__all__ = [
    "COLUMNS",
    "FRACTIONS",
    "PRUNED_LAYERS",
    "STARTS",
    "START_LABELS",
    "STUDY_SETTINGS",
    "book_study",
    "random_start",
    "run_fewer_examples",
]

STARTS = ("cosine", "l1", "random")
"""The starting points of fine-tuning: cosine-pruned weights, l1-pruned weights, random weights."""

START_LABELS = {"cosine": "cosine-pruned weights", "l1": "l1-pruned weights",
                "random": "random initialisation"}
"""Readable names of :data:`STARTS`, as the papers' table names them."""

FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.1, 0.0)
"""Shares of the training data of the papers' study (0: evaluate the starting point as it is)."""

PRUNED_LAYERS = ("conv1", "conv2", "conv3")
"""The papers' C1+C2+C3 setting."""

STUDY_SETTINGS = {"fractions": FRACTIONS, "seeds": (0, 1, 2), "epochs": 3, "lr": 1e-3,
                  "batch_size": 32}
"""The book's settings (Chapters 5 and 6): the papers' fractions, learning rate and batch
size, three seeds, and 3 epochs instead of the papers' 30, so that the whole grid (45
fine-tuning runs) trains in a minute or two on two CPU cores."""

COLUMNS = ["start", "fraction", "seed", "n_train", "epochs", "params", "accuracy", "log_loss",
           "wall_time_s", "energy_kwh", "cpu_energy_kwh", "ram_energy_kwh", "gpu_energy_kwh",
           "emissions_kg", "cached"]
"""The columns of the table :func:`run_fewer_examples` returns, one row per run."""

_RUN_FORMAT = "audioprune_lite.fewer_examples.run/1"


def random_start(architecture: nn.Module, seed: int) -> nn.Module:
    """A copy of ``architecture`` with every layer re-initialised at random (PyTorch's defaults).

    The input normalisation a :class:`~audioprune_lite.models.DCASE21Baseline` stores is
    kept: it describes the data, not learned weights.

    Used by: :func:`run_fewer_examples` (the "random initialisation" starting point).

    Parameters
    ----------
    architecture : torch.nn.Module
    seed : int
        Seeds the new weights.

    Returns
    -------
    torch.nn.Module
    """
    model = copy.deepcopy(architecture)
    torch.manual_seed(seed)
    for layer in model.modules():
        if layer is not model and hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    return model


def _check_grid(fractions, starts, seeds) -> None:
    unknown = [s for s in starts if s not in STARTS]
    if unknown:
        raise ValueError(f"unknown starting points {unknown}; choose from {STARTS}")
    outside = [f for f in fractions if not 0 <= f <= 1]
    if outside:
        raise ValueError(f"fractions must lie in [0, 1], got {outside}")
    if not len(fractions) or not len(starts) or not len(seeds):
        raise ValueError("need at least one fraction, one starting point and one seed")


def _one_run(initial: nn.Module, train, val, test, *, start, fraction, seed, epochs, lr,
             batch_size, country_iso_code) -> dict:
    """Fine-tune a copy of ``initial`` on a stratified share of ``train`` and evaluate it on ``test``."""
    model = copy.deepcopy(initial)
    subset = stratified_subset(train[1], fraction, seed)
    row = {"start": start, "fraction": fraction, "seed": seed, "n_train": len(subset),
           "epochs": epochs if len(subset) else 0, "params": count_params(model),
           "wall_time_s": 0.0, "energy_kwh": 0.0, "cpu_energy_kwh": 0.0, "ram_energy_kwh": 0.0,
           "gpu_energy_kwh": 0.0, "emissions_kg": 0.0}
    if len(subset):
        name = f"fine-tuning from {start}, {fraction:.0%} of the data, seed {seed}"
        with carbon.track(name, country_iso_code=country_iso_code) as report:
            history = fit(model, (train[0][subset], train[1][subset]), val, epochs=epochs, lr=lr,
                          batch_size=batch_size, seed=seed, device="cpu", progress=False)
        row.update(wall_time_s=history.wall_time_s, energy_kwh=report.energy_kwh,
                   cpu_energy_kwh=report.cpu_energy_kwh, ram_energy_kwh=report.ram_energy_kwh,
                   gpu_energy_kwh=report.gpu_energy_kwh, emissions_kg=report.emissions_kg)
    result = evaluate(model, *test)
    row.update(accuracy=result["accuracy"], log_loss=result["log_loss"])
    return row


def _save_row(row: dict, path: Path) -> None:
    text = json.dumps(row).encode()
    atomic_write(path, lambda file: file.write(text))


def _load_row(path: Path) -> dict:
    """Read a cached run; raise if it lacks a column of the table."""
    row = json.loads(path.read_text())
    missing = set(COLUMNS) - {"cached"} - set(row)
    if missing:
        raise ValueError(f"the run lacks {sorted(missing)}")
    return row


def run_fewer_examples(model: nn.Module, train, val, test, *, fractions=FRACTIONS, starts=STARTS,
                       seeds=(0, 1, 2), epochs: int = 3, lr: float = 1e-3, batch_size: int = 32,
                       layers=PRUNED_LAYERS, country_iso_code: str = "GBR", cache_dir=None,
                       csv_path=None, progress: bool = True) -> pd.DataFrame:
    """Fine-tune pruned and randomly initialised networks on shares of the training data.

    For every starting point, fraction and seed: take a class-stratified subset of the
    training data (:func:`audioprune_lite.train.stratified_subset` with that fraction and
    seed), fine-tune a copy of the starting point on it with
    :func:`audioprune_lite.train.fit` (Adam, the checkpoint chosen on ``val``) while
    :func:`audioprune_lite.carbon.track` measures the energy, and evaluate it on ``test``.
    A fraction too small to hold one example, and 0, evaluate the starting point as it is.
    The random starting point has the pruned architecture, initialised anew for each seed.

    Each run is cached in ``cache_dir`` under a hash of the training, validation and test
    data, the starting weights and every setting of that run: running again reads the
    results (and the wall time and energy measured when the run was made) instead of
    training, and changing an input retrains exactly the runs it changes. One progress bar
    covers the whole grid.

    Used by: :func:`book_study` and :func:`audioprune_lite.reproduce.reproduce`.

    Parameters
    ----------
    model : torch.nn.Module
        The trained network to prune (a :class:`~audioprune_lite.models.DCASE21Baseline`).
    train, val, test : tuple (X, y)
        Training data (subsets are drawn from it), validation data (checkpoint choice) and
        evaluation data (reported).
    fractions : sequence of float
        Shares of the training data, in [0, 1].
    starts : sequence of str
        Starting points, from :data:`STARTS`.
    seeds : sequence of int
        One run per seed: the subset, the shuffling and dropout, the random weights.
    epochs, lr, batch_size :
        Passed to ``fit``.
    layers : sequence of str
        The convolutions pruned (:func:`audioprune_lite.pruning.pruning_plans`).
    country_iso_code : str
        Grid whose carbon intensity turns energy into emissions.
    cache_dir : str or Path, optional
        Default ``cache_home() / "fewer-examples"``.
    csv_path : str or Path, optional
        When given, the table is also written there as CSV.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per run, columns :data:`COLUMNS`: ``start``, ``fraction``, ``seed``,
        ``n_train`` (examples fine-tuned on), ``epochs`` (0 when not fine-tuned),
        ``params``, ``accuracy`` (fraction correct on ``test``), ``log_loss`` (nats),
        ``wall_time_s`` (fine-tuning only), energy in kWh (total, CPU, RAM, GPU) and
        ``emissions_kg`` of the fine-tuning (0 when not fine-tuned, NaN if codecarbon
        failed), and ``cached`` (read from the cache in this call).
    """
    _check_grid(fractions, starts, seeds)
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_home() / "fewer-examples"
    cache_dir.mkdir(parents=True, exist_ok=True)
    plans = pruning_plans(model, layers)
    pruned = {method: prune_model(model, plan) for method, plan in plans.items()}
    data_key = fingerprint(*train, *val, *test)
    code = (code_fingerprint(sys.modules[__name__], train_module, models), torch.__version__)
    settings = {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                "country_iso_code": country_iso_code, "format": _RUN_FORMAT}
    rows = []
    grid = list(itertools.product(starts, fractions, seeds))
    for start, fraction, seed in tqdm(grid, desc="fine-tuning runs", unit="run", disable=not progress):
        initial = random_start(pruned["cosine"], seed) if start == "random" else pruned[start]
        weights = [value.cpu().numpy() for value in initial.state_dict().values()]
        run = {"start": start, "fraction": float(fraction), "seed": int(seed)}
        path = cache_dir / f"run-{fingerprint(data_key, run, settings, code, *weights)}.json"
        row, was_cached = cached(
            path, lambda: _one_run(initial, train, val, test, **run, epochs=epochs, lr=lr,
                                   batch_size=batch_size, country_iso_code=country_iso_code),
            save=_save_row, load=_load_row)
        rows.append({**row, "cached": was_cached})
    table = pd.DataFrame(rows, columns=COLUMNS)
    if csv_path is not None:
        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(csv_path, index=False)
    return table


def book_study(features=None, progress: bool = True) -> pd.DataFrame:
    """The study as Chapters 5 and 6 show it: the book's baseline, data and :data:`STUDY_SETTINGS`.

    Runs (or reads from the cache) :func:`run_fewer_examples` on the baseline of
    :func:`audioprune_lite.experiments.trained_baseline`, and writes the table to
    ``cache_home() / "results" / "fewer-examples.csv"``.

    Used by: Chapter 5 (where the runs are made) and Chapter 6 (which reads their energy).

    Parameters
    ----------
    features : SceneFeatures, optional
        Default :func:`audioprune_lite.experiments.default_features`.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        As :func:`run_fewer_examples` returns it.
    """
    features = default_features(progress=progress) if features is None else features
    baseline, _, _ = trained_baseline(features, progress=progress)
    return run_fewer_examples(
        baseline, (features.X_train, features.y_train), (features.X_val, features.y_val),
        (features.X_eval, features.y_eval), **STUDY_SETTINGS,
        csv_path=cache_home() / "results" / "fewer-examples.csv", progress=progress,
    )
