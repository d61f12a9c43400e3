"""Fine-tuning with fewer examples: the papers' study, run on the book's data, with its controls.

The papers prune C1, C2 and C3 of the DCASE 2021 baseline together, as many filters per
layer as the greedy cosine pass removes, and fine-tune the pruned network on 100, 75, 50,
25 and 10 % of the training data; 0 % means no fine-tuning at all. They compare three
starting points of the same small architecture: the cosine-pruned weights, the l1-pruned
weights (the same number of filters per layer, chosen by l1 norm), and random weights.
This module adds the control the comparison with the unpruned network needs: the unpruned
baseline itself, fine-tuned alike (:data:`CONTROL`). :func:`run_fewer_examples` runs such a
grid over several seeds, with a fixed number of epochs or with early stopping, records each
run's accuracy, log loss, epochs, wall time and energy (:func:`audioprune_lite.carbon.track`),
and caches every run on disk, keyed by a hash of everything it depends on: re-running
trains nothing, and a changed input retrains only the runs it affects.
:func:`book_study` is the grid the book runs; :func:`seed_summary` and
:func:`paired_differences` read it with a 95 % t-interval over the seeds.

Used by: Chapter 5 (the study) and Chapter 6 (the energy of its runs).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import carbon, models
from .engine import LocalEngine, Run
from . import train as train_module
from .experiments import BASELINE_TRAINING, default_features, trained_baseline
from .metrics import count_params, seed_interval
from .pruning import prune_model, pruning_plans
from .store import atomic_write_text, cache_home, code_fingerprint, fingerprint
from .train import evaluate, fit, stratified_subset

__all__ = [
    "ALL_STARTS",
    "COLUMNS",
    "CONFIDENCE",
    "CONTROL",
    "FRACTIONS",
    "PRUNED_LAYERS",
    "SCRATCH_SETTINGS",
    "STARTS",
    "START_LABELS",
    "STUDY_SETTINGS",
    "book_study",
    "paired_differences",
    "random_start",
    "run_fewer_examples",
    "seed_summary",
]

STARTS = ("cosine", "l1", "random")
"""The papers' starting points, all of the pruned architecture: cosine-pruned weights,
l1-pruned weights, random weights."""

CONTROL = "unpruned"
"""The control: the unpruned baseline itself, fine-tuned exactly like the pruned networks
(same data, epochs and seeds); at 0 % it is the baseline as trained."""

ALL_STARTS = (*STARTS, CONTROL)
"""Every starting point :func:`run_fewer_examples` accepts."""

START_LABELS = {"cosine": "cosine-pruned weights", "l1": "l1-pruned weights",
                "random": "random initialisation", "unpruned": "unpruned, fine-tuned alike"}
"""Readable names of :data:`ALL_STARTS` (the first three as the papers' table names them)."""

FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.1, 0.0)
"""Shares of the training data of the papers' study (0: evaluate the starting point as it is)."""

PRUNED_LAYERS = ("conv1", "conv2", "conv3")
"""The papers' C1+C2+C3 setting."""

STUDY_SETTINGS = {"starts": ("cosine", "l1", CONTROL), "fractions": FRACTIONS, "seeds": (0, 1, 2),
                  "epochs": 3, "lr": 1e-3, "batch_size": 32}
"""The book's fine-tuning arms (Chapters 5 and 6): the cosine- and l1-pruned weights and the
unpruned control, on the papers' fractions with their learning rate and batch size, three
seeds, and a fixed 3 epochs instead of the papers' 30 (the papers' recipe of a fixed
number of epochs, shortened so that the grid trains in about a minute on two CPU cores)."""

SCRATCH_SETTINGS = {"starts": ("random",), "fractions": (1.0, 0.0), "seeds": (0, 1),
                    "epochs": BASELINE_TRAINING["epochs"], "patience": BASELINE_TRAINING["patience"],
                    "lr": 1e-3, "batch_size": 32}
"""The book's from-scratch arm: the pruned architecture from random weights, trained to
convergence like the baseline (early stopping with the baseline's patience, at most its
number of epochs, the papers' learning rate and batch size). Only on all the training data
(and 0 %, the untrained network) and on the first two of the study's seeds: trained to
convergence, one such run takes some 30 to 60 epochs of the whole training set, as much as
the fixed-epoch arms' runs on one seed together, and more would take Chapter 5 over its
time budget."""

CONFIDENCE = 0.95
"""The confidence of the intervals of :func:`seed_summary` and :func:`paired_differences`."""

COLUMNS = ["start", "fraction", "seed", "n_train", "max_epochs", "patience", "epochs",
           "best_epoch", "params", "accuracy", "log_loss", "wall_time_s", "energy_kwh",
           "cpu_energy_kwh", "ram_energy_kwh", "gpu_energy_kwh", "emissions_kg", "cached"]
"""The columns of the table :func:`run_fewer_examples` returns, one row per run."""

_RUN_FORMAT = "audioprune_lite.fewer_examples.run/2"


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


def _check_grid(fractions, starts, seeds, epochs, patience) -> None:
    unknown = [s for s in starts if s not in ALL_STARTS]
    if unknown:
        raise ValueError(f"unknown starting points {unknown}; choose from {ALL_STARTS}")
    outside = [f for f in fractions if not 0 <= f <= 1]
    if outside:
        raise ValueError(f"fractions must lie in [0, 1], got {outside}")
    if not len(fractions) or not len(starts) or not len(seeds):
        raise ValueError("need at least one fraction, one starting point and one seed")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 epoch (or None), got {patience}")


def _one_run(initial: nn.Module, train, val, test, *, start, fraction, seed, epochs, patience,
             lr, batch_size, country_iso_code, device) -> dict:
    """Fine-tune a copy of ``initial`` on a stratified share of ``train`` and evaluate it on ``test``."""
    model = copy.deepcopy(initial)
    subset = stratified_subset(train[1], fraction, seed)
    row = {"start": start, "fraction": fraction, "seed": seed, "n_train": len(subset),
           "max_epochs": epochs, "patience": patience or 0, "epochs": 0, "best_epoch": 0,
           "params": count_params(model), "wall_time_s": 0.0, "energy_kwh": 0.0,
           "cpu_energy_kwh": 0.0, "ram_energy_kwh": 0.0, "gpu_energy_kwh": 0.0,
           "emissions_kg": 0.0}
    if len(subset):
        name = f"fine-tuning from {start}, {fraction:.0%} of the data, seed {seed}"
        with carbon.track(name, country_iso_code=country_iso_code) as report:
            history = fit(model, (train[0][subset], train[1][subset]), val, epochs=epochs, lr=lr,
                          batch_size=batch_size, seed=seed, patience=patience, device=device,
                          progress=False)
        row.update(epochs=len(history.train_loss), best_epoch=history.best_epoch,
                   wall_time_s=history.wall_time_s, energy_kwh=report.energy_kwh,
                   cpu_energy_kwh=report.cpu_energy_kwh, ram_energy_kwh=report.ram_energy_kwh,
                   gpu_energy_kwh=report.gpu_energy_kwh, emissions_kg=report.emissions_kg)
    result = evaluate(model, *test)
    row.update(accuracy=result["accuracy"], log_loss=result["log_loss"])
    return row


def _save_row(row: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(row))


def _load_row(path: Path) -> dict:
    """Read a cached run; raise if it lacks a column of the table."""
    row = json.loads(path.read_text())
    missing = set(COLUMNS) - {"cached"} - set(row)
    if missing:
        raise ValueError(f"the run lacks {sorted(missing)}")
    return row


def run_fewer_examples(model: nn.Module, train, val, test, *, fractions=FRACTIONS, starts=STARTS,
                       seeds=(0, 1, 2), epochs: int = 3, patience: int | None = None,
                       lr: float = 1e-3, batch_size: int = 32, layers=PRUNED_LAYERS,
                       country_iso_code: str = "GBR", cache_dir=None, csv_path=None,
                       progress: bool = True, engine=None) -> pd.DataFrame:
    """Fine-tune pruned, randomly initialised and unpruned networks on shares of the training data.

    For every starting point, fraction and seed: take a class-stratified subset of the
    training data (:func:`audioprune_lite.train.stratified_subset` with that fraction and
    seed: every starting point gets the same subset for the same seed), fine-tune a copy of
    the starting point on it with :func:`audioprune_lite.train.fit` (Adam, the checkpoint
    chosen on ``val``; with ``patience``, stopped early) while
    :func:`audioprune_lite.carbon.track` measures the energy, and evaluate it on ``test``.
    A fraction too small to hold one example, and 0, evaluate the starting point as it is.
    The ``"random"`` starting point has the pruned architecture, initialised anew for each
    seed; the ``"unpruned"`` one (:data:`CONTROL`) is ``model`` itself, so that at 0 % it
    is the network as trained.

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
        Training data (subsets are drawn from it), validation data (checkpoint choice and
        early stopping) and evaluation data (reported).
    fractions : sequence of float
        Shares of the training data, in [0, 1].
    starts : sequence of str
        Starting points, from :data:`ALL_STARTS` (default: the papers' :data:`STARTS`).
    seeds : sequence of int
        One run per seed: the subset, the shuffling and dropout, the random weights.
    epochs : int
        Epochs of every run; with ``patience``, the most a run may take.
    patience : int, optional
        Early stopping: a run stops once the validation loss has not improved for this many
        epochs. ``None`` (default) runs all ``epochs``, the papers' recipe.
    lr, batch_size :
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
    engine : LocalEngine or RayEngine, optional
        Where the runs run (:mod:`audioprune_lite.engine`); by default one after another in
        this process.

    Returns
    -------
    pandas.DataFrame
        One row per run, columns :data:`COLUMNS`: ``start``, ``fraction``, ``seed``,
        ``n_train`` (examples fine-tuned on), ``max_epochs`` (``epochs``), ``patience``
        (0 without early stopping), ``epochs`` (epochs run, 0 when not fine-tuned),
        ``best_epoch`` (the epoch whose weights were kept, counted from 1; 0 when not
        fine-tuned), ``params``, ``accuracy`` (fraction correct on ``test``), ``log_loss``
        (nats), ``wall_time_s`` (fine-tuning only), energy in kWh (total, CPU, RAM, GPU)
        and ``emissions_kg`` of the fine-tuning (0 when not fine-tuned, NaN if codecarbon
        failed), and ``cached`` (read from the cache in this call).
    """
    _check_grid(fractions, starts, seeds, epochs, patience)
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_home() / "fewer-examples"
    cache_dir.mkdir(parents=True, exist_ok=True)
    plans = pruning_plans(model, layers)
    pruned = {method: prune_model(model, plan) for method, plan in plans.items()}
    pruned[CONTROL] = model
    data_key = fingerprint(*train, *val, *test)
    code = (code_fingerprint(sys.modules[__name__], train_module, models),
            train_module.training_environment())
    settings = {"epochs": epochs, "patience": patience, "lr": lr, "batch_size": batch_size,
                "country_iso_code": country_iso_code, "format": _RUN_FORMAT}
    grid = list(itertools.product(starts, fractions, seeds))
    # on the CPU, as chapter 5 measures the runs, unless the engine gives each run a GPU
    device = None if getattr(engine, "gpus_per_run", 0) else "cpu"
    runs = []
    for start, fraction, seed in grid:
        initial = random_start(pruned["cosine"], seed) if start == "random" else pruned[start]
        weights = [value.cpu().numpy() for value in initial.state_dict().values()]
        run = {"start": start, "fraction": float(fraction), "seed": int(seed)}
        path = cache_dir / f"run-{fingerprint(data_key, run, settings, code, *weights)}.json"
        task = functools.partial(_one_run, **run, epochs=epochs, patience=patience, lr=lr,
                                 batch_size=batch_size, country_iso_code=country_iso_code,
                                 device=device)
        runs.append(Run(f"fewer-examples {start} {fraction:.0%} seed {seed}", path, task,
                        (initial, train, val, test), save=_save_row, load=_load_row))
    engine = engine or LocalEngine(progress=progress)
    rows = [{**row, "cached": was_cached} for row, was_cached in engine.run(runs, "fine-tuning runs")]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if csv_path is not None:
        atomic_write_text(csv_path, table.to_csv(index=False))
    return table


def _percent(table: pd.DataFrame) -> pd.Series:
    return (100 * table["fraction"]).round().astype(int)


def seed_summary(table: pd.DataFrame, value: str = "accuracy", confidence: float = CONFIDENCE
                 ) -> pd.DataFrame:
    """Mean and t-interval over the seeds of one column, per starting point and share of data.

    Used by: Chapter 5.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`run_fewer_examples` returns it.
    value : str
        The column summarised; ``"accuracy"`` is reported in percent.
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Indexed by ``start`` and ``percent`` (share of the training data, %), in the order
        the table lists them; columns ``seeds`` (runs), ``mean`` and ``half_width`` (of the
        t-interval of the mean, in the unit of ``mean``; NaN for one seed).
    """
    scale = 100.0 if value == "accuracy" else 1.0
    frame = table.assign(percent=_percent(table), value=scale * table[value])
    grouped = frame.groupby(["start", "percent"], sort=False)["value"]
    return pd.DataFrame({"seeds": grouped.size(), "mean": grouped.mean(),
                         "half_width": grouped.agg(seed_interval, confidence=confidence)})


def paired_differences(table: pd.DataFrame, first: str, second: str, value: str = "accuracy",
                       confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Difference of two starting points per share of data, seed by seed, with its t-interval.

    The rule: runs of the two starting points with the same seed used the same subset of
    the training data, so they are paired by seed; the mean of the per-seed differences
    ``first - second`` is reported with the t-interval of that mean
    (:func:`seed_interval`), and the difference counts as *beyond seed noise* only
    when the interval excludes zero (``|mean| > half_width``). Shares or seeds that only
    one of the two ran are left out; with one shared seed there is no interval and no
    difference is beyond noise.

    Used by: Chapter 5.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`run_fewer_examples` returns it.
    first, second : str
        Starting points (``start`` values).
    value : str
        The column compared; ``"accuracy"`` is compared in points (percent).
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Indexed by ``percent`` (largest share first); columns ``seeds`` (pairs),
        ``difference`` (mean of ``first - second``), ``half_width`` and
        ``beyond_noise`` (bool).
    """
    scale = 100.0 if value == "accuracy" else 1.0
    frame = table.assign(percent=_percent(table), value=scale * table[value])
    wide = frame[frame["start"].isin([first, second])].pivot_table(
        index=["percent", "seed"], columns="start", values="value")
    if first not in wide or second not in wide:
        raise ValueError(f"the table has no runs of both {first!r} and {second!r}")
    per_seed = (wide[first] - wide[second]).dropna()
    grouped = per_seed.groupby(level="percent")
    result = pd.DataFrame({"seeds": grouped.size(), "difference": grouped.mean(),
                           "half_width": grouped.agg(seed_interval, confidence=confidence)})
    result["beyond_noise"] = result["difference"].abs() > result["half_width"]  # False for NaN
    return result.sort_index(ascending=False)


def book_study(features=None, progress: bool = True) -> pd.DataFrame:
    """The study as Chapters 5 and 6 show it: the book's baseline, data and settings.

    Runs (or reads from the cache) :func:`run_fewer_examples` on the baseline of
    :func:`audioprune_lite.experiments.trained_baseline` twice: the cosine- and l1-pruned
    weights and the unpruned control with :data:`STUDY_SETTINGS` (a fixed number of
    epochs), and the random initialisation with :data:`SCRATCH_SETTINGS` (early stopping,
    trained to convergence). The table of both is written to
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
        As :func:`run_fewer_examples` returns it: the fixed-epoch arms first, then the
        from-scratch arm (tell them apart by ``patience``).
    """
    features = default_features(progress=progress) if features is None else features
    baseline, _, _ = trained_baseline(features, progress=progress)
    data = ((features.X_train, features.y_train), (features.X_val, features.y_val),
            (features.X_eval, features.y_eval))
    table = pd.concat([run_fewer_examples(baseline, *data, **settings, progress=progress)
                       for settings in (STUDY_SETTINGS, SCRATCH_SETTINGS)], ignore_index=True)
    atomic_write_text(cache_home() / "results" / "fewer-examples.csv", table.to_csv(index=False))
    return table
