"""Reproduce the papers' study in one run: prune, fine-tune, compare, and write the tables.

The steps of chapters 2 to 6 chained together, on the book's offline data or on TAU
Urban Acoustic Scenes 2020 Mobile: train the baseline; prune C1, C2, C3 and their
combinations by the cosine criterion (as many filters as its greedy pass removes) and by
l1 norm at the same counts; fine-tune every pruned network over several seeds; run the
fewer-examples study; measure the energy of each phase. Every training run is cached, so
running it again only re-reads results.

Used by: Chapter 7 and the command line's ``reproduce``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import carbon
from .engine import LocalEngine
from .experiments import SceneFeatures, baseline_run, default_features, fit_run
from .features import LogMelConfig
from .fewer_examples import CONTROL, STARTS, STUDY_SETTINGS, run_fewer_examples
from .metrics import count_macs, count_params, count_params_keras, seed_interval
from .pruning import prune_model, pruning_plans
from .published import PRUNING_TABLE
from .store import atomic_write_text
from .train import evaluate

__all__ = ["BINOMIAL", "DROP_INTERVAL", "INTERVAL", "LAYER_SETS", "beside_paper", "clip_length_s", "macs_column",
           "pruning_study", "reproduce", "summarise_pruning"]

LAYER_SETS = {
    "C1": ("conv1",), "C2": ("conv2",), "C3": ("conv3",), "C1+C2": ("conv1", "conv2"),
    "C2+C3": ("conv2", "conv3"), "C1+C2+C3": ("conv1", "conv2", "conv3"),
}
"""The pruned layers of each row of :data:`audioprune_lite.published.PRUNING_TABLE`."""

INTERVAL = "95% t-interval over seeds (± points)"
"""The column of :func:`summarise_pruning` holding the interval of the mean accuracy."""

BINOMIAL = "binomial 95% of the evaluation clips (± points)"
"""The column of :func:`summarise_pruning` holding the evaluation set's own uncertainty."""

DROP_INTERVAL = "that drop's 95% t-interval over seeds (± points)"
"""The column of :func:`summarise_pruning` holding the interval of the drop from the
unpruned network fine-tuned alike (seed by seed)."""


def clip_length_s(X: np.ndarray, config: LogMelConfig = LogMelConfig()) -> float:
    """The clip length (s) of log-mel features with ``X.shape[-1]`` frames, to 0.1 s.

    Used by: :func:`pruning_study` and the command line's ``export``.
    """
    return round((X.shape[-1] - 1) * config.hop_length / config.sr, 1)


def macs_column(seconds: float | None) -> str:
    """The name of the MACs column for inputs of this clip length (``None``: unknown).

    Used by: :func:`summarise_pruning` and the command line's ``export``.
    """
    return "MACs per input (M)" if seconds is None else f"MACs per {seconds:g}-s clip (M)"


def pruning_study(baseline, features: SceneFeatures, *, seeds=(0, 1, 2), epochs: int = 5,
                  lr: float = 1e-3, batch_size: int = 32, layer_sets=LAYER_SETS,
                  progress: bool = True, engine=None) -> pd.DataFrame:
    """Prune each layer set by cosine and by l1, then fine-tune every pruned network per seed.

    The unpruned baseline is fine-tuned too, with the same settings and seeds (method
    ``"fine-tuned"``): fine-tuning is more training, and a baseline that has not fully
    converged gains from it as well, so the fair reference for a pruned, fine-tuned
    network is the unpruned network fine-tuned alike.

    Used by: :func:`reproduce` and Chapter 8.

    Parameters
    ----------
    baseline : DCASE21Baseline
        The trained network; it is not changed.
    features : SceneFeatures
        Training and validation data for fine-tuning; the evaluation split is reported.
    seeds : sequence of int
        One fine-tuning run per seed.
    epochs, lr, batch_size :
        Fine-tuning settings (the papers': :data:`audioprune_lite.published.FINE_TUNING`).
    layer_sets : dict of str to tuple of str
        Row name to the layers pruned together.
    progress : bool
    engine : LocalEngine or RayEngine, optional
        Where the fine-tuning runs run (:mod:`audioprune_lite.engine`); by default one
        after another in this process.

    Returns
    -------
    pandas.DataFrame
        One row per (pruned, method, seed): ``params``, ``params_keras``, ``macs`` (per
        evaluation clip, full accounting), ``clip_s`` (the evaluation clips' length in
        seconds), ``accuracy_before`` (no fine-tuning) and ``accuracy`` (after),
        ``finetune_s`` (the fine-tuning's wall time when it was trained) and ``cached``
        (read from the cache in this call; False for the baseline as trained, which is not
        fine-tuned); ``pruned`` is ``"none"`` for the baseline as
        trained (method ``"none"``) and fine-tuned (``"fine-tuned"``).
    """
    shape = (1, *features.X_eval.shape[1:])
    seconds = clip_length_s(features.X_eval)
    base = evaluate(baseline, features.X_eval, features.y_eval)["accuracy"]
    rows = [{"pruned": "none", "method": "none", "seed": 0, "params": count_params(baseline),
             "params_keras": count_params_keras(baseline), "macs": count_macs(baseline, shape),
             "clip_s": seconds, "accuracy_before": base, "accuracy": base, "finetune_s": 0.0,
             "cached": False}]
    grid = [("none", "fine-tuned", seed) for seed in seeds]
    grid += [(name, method, seed) for name in layer_sets for method in ("cosine", "l1") for seed in seeds]
    plans = {name: pruning_plans(baseline, layers) for name, layers in layer_sets.items()}
    pruned = {(name, method): prune_model(baseline, plan)
              for name, by_method in plans.items() for method, plan in by_method.items()}
    pruned.update({("none", "fine-tuned"): baseline})
    train, val = (features.X_train, features.y_train), (features.X_val, features.y_val)
    runs = [fit_run(pruned[name, method], train, val,
                    name="unpruned" if name == "none" else f"pruned-{name}-{method}",
                    label=f"{'unpruned' if name == 'none' else name} {method} seed {seed}",
                    progress=False, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
            for name, method, seed in grid]
    engine = engine or LocalEngine(progress=progress)
    trained = engine.run(runs, "prune + fine-tune")
    for (name, method, seed), ((tuned, history), was_cached) in zip(grid, trained):
        model = pruned[name, method]
        before = base if name == "none" else evaluate(model, features.X_eval, features.y_eval)["accuracy"]
        rows.append({"pruned": name, "method": method, "seed": seed,
                     "params": count_params(model), "params_keras": count_params_keras(model),
                     "macs": count_macs(model, shape), "clip_s": seconds,
                     "accuracy_before": before,
                     "accuracy": evaluate(tuned, features.X_eval, features.y_eval)["accuracy"],
                     "finetune_s": history.wall_time_s, "cached": was_cached})
    return pd.DataFrame(rows)


def summarise_pruning(runs: pd.DataFrame, n_eval: int) -> pd.DataFrame:
    """Mean over seeds per (pruned, method), with reductions, intervals and drops.

    Two uncertainties are reported, separately. The interval (column :data:`INTERVAL`) is
    the 95 % t-interval over seeds of the mean accuracy (:func:`seed_interval`): how much
    the fine-tuning seed moves the result. It is NaN for a row of one run, such as the
    baseline as trained. It does not include how much another trained baseline, or
    another evaluation set, would move it: every row starts from the same trained
    network and is scored on the same clips. The second (column :data:`BINOMIAL`) is the
    evaluation set's own: the half-width of the 95 % normal-approximation binomial
    interval of an accuracy measured on ``n_eval`` clips, ``1.96 sqrt(p (1 - p) / n_eval)``.

    Used by: :func:`reproduce` and Chapter 8.

    Parameters
    ----------
    runs : pandas.DataFrame
        As :func:`pruning_study` returns it (a ``clip_s`` column names the MACs column;
        without it the MACs are "per input").
    n_eval : int
        Number of evaluation clips.

    Returns
    -------
    pandas.DataFrame
        Indexed by (pruned, method), columns: ``parameters``, ``parameters (Keras
        count)``, ``parameters cut (%)``, ``MACs per 1-s clip (M)`` (the clip length of
        the data), ``MACs cut (%)``, ``accuracy before fine-tuning (%)``, ``accuracy (%)``
        (mean over seeds), :data:`INTERVAL`, :data:`BINOMIAL`, ``drop from unpruned as
        trained (points)`` (the baseline as trained minus this row: a negative drop is a
        gain), ``drop from unpruned fine-tuned alike (points)`` (the baseline fine-tuned
        with the same settings and seeds minus this row, if it was), :data:`DROP_INTERVAL`
        (the 95 % t-interval over seeds of that drop, taken seed by seed: the unpruned
        network fine-tuned with seed s minus this row's run with seed s; NaN unless both
        have the same two or more seeds) and ``seeds``.
    """
    base = runs[(runs["pruned"] == "none") & (runs["method"] == "none")].iloc[0]
    tuned_base = runs[(runs["pruned"] == "none") & (runs["method"] == "fine-tuned")]["accuracy"].mean()
    grouped = runs.groupby(["pruned", "method"], sort=False)
    table = grouped.agg(params=("params", "first"), params_keras=("params_keras", "first"),
                        macs=("macs", "first"), accuracy_before=("accuracy_before", "mean"),
                        accuracy=("accuracy", "mean"), seeds=("seed", "count"))
    interval = grouped["accuracy"].agg(seed_interval)
    reference = runs[(runs["pruned"] == "none") & (runs["method"] == "fine-tuned")]
    reference = reference.set_index("seed")["accuracy"]

    def drop_interval(group: pd.DataFrame) -> float:
        by_seed = group.set_index("seed")["accuracy"]
        if not by_seed.index.is_unique or set(by_seed.index) != set(reference.index):
            return float("nan")
        return seed_interval(reference - by_seed.reindex(reference.index))

    drop_intervals = pd.Series({key: drop_interval(group) for key, group in grouped})
    binomial = 1.96 * np.sqrt(table["accuracy"] * (1 - table["accuracy"]) / n_eval)
    seconds = float(runs["clip_s"].iloc[0]) if "clip_s" in runs else None
    return pd.DataFrame({
        "parameters": table["params"], "parameters (Keras count)": table["params_keras"],
        "parameters cut (%)": 100 * (1 - table["params"] / base["params"]),
        macs_column(seconds): table["macs"] / 1e6,
        "MACs cut (%)": 100 * (1 - table["macs"] / base["macs"]),
        "accuracy before fine-tuning (%)": 100 * table["accuracy_before"],
        "accuracy (%)": 100 * table["accuracy"], INTERVAL: 100 * interval,
        BINOMIAL: 100 * binomial,
        "drop from unpruned as trained (points)": 100 * (base["accuracy"] - table["accuracy"]),
        "drop from unpruned fine-tuned alike (points)": 100 * (tuned_base - table["accuracy"]),
        DROP_INTERVAL: 100 * drop_intervals.reindex(table.index),
        "seeds": table["seeds"],
    })


def beside_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Our pruning table next to the published one, row by row (the papers' layer sets).

    The papers' parameter cut is computed from their Keras counts; their drop is the
    unpruned accuracy minus the cosine-pruned one after fine-tuning, as ours is. Ours adds
    the drop from the unpruned network fine-tuned alike, the fair reference (see
    :func:`pruning_study`), and the 95 % t-interval over seeds of the cosine accuracy.

    Used by: Chapter 7 and ``audioprune reproduce`` (``beside_paper.md``).

    Parameters
    ----------
    summary : pandas.DataFrame
        The result of :func:`summarise_pruning` (rows without a published counterpart are
        left out).

    Returns
    -------
    pandas.DataFrame
        Indexed by the pruned layer set (``none`` first), with two column groups, ``ours``
        and ``paper``: parameters (Keras count), parameters cut (%), cosine and l1
        accuracy (%) and the drop in points (from the unpruned network as trained); ours
        adds the MACs cut, the 95 % t-interval over seeds of the cosine accuracy and the
        drop from the unpruned network fine-tuned alike.
    """
    cosine = summary.xs("cosine", level="method")
    rows = [name for name in PRUNING_TABLE.index if name == "none" or name in cosine.index]
    ours = pd.concat([summary.xs("none", level="method"), cosine]).loc[rows]
    l1 = summary.xs("l1", level="method")["accuracy (%)"].reindex(rows)
    paper = PRUNING_TABLE.loc[rows]
    paper_base = PRUNING_TABLE.loc["none"]
    return pd.concat({
        "ours": pd.DataFrame({
            "parameters (Keras count)": ours["parameters (Keras count)"],
            "parameters cut (%)": ours["parameters cut (%)"], "MACs cut (%)": ours["MACs cut (%)"],
            "cosine accuracy (%)": ours["accuracy (%)"], "l1 accuracy (%)": l1,
            INTERVAL: ours[INTERVAL], "drop (points)": ours["drop from unpruned as trained (points)"],
            "drop from unpruned fine-tuned alike (points)":
                ours["drop from unpruned fine-tuned alike (points)"]}),
        "paper": pd.DataFrame({
            "parameters (Keras count)": paper["params (Keras count)"],
            "parameters cut (%)": 100 * (1 - paper["params (Keras count)"]
                                         / paper_base["params (Keras count)"]),
            "cosine accuracy (%)": paper["cosine acc %"], "l1 accuracy (%)": paper["l1 acc %"],
            "drop (points)": paper_base["cosine acc %"] - paper["cosine acc %"]}),
    }, axis=1)


def _energy_table(phases) -> pd.DataFrame:
    """One row per phase of :func:`reproduce`: what this call measured, and what it re-read.

    A phase whose training runs were read from the cache measures only the reading, so
    the table says how many were: ``training runs``, ``read from the cache``, this call's
    ``wall time (s)``, ``energy (kWh)`` and ``CO2eq (kg)`` (codecarbon), the ``training
    time when trained (s)`` (the sum of the runs' wall times recorded when each was
    trained, cached or not), codecarbon's ``tracking mode`` and ``CPU power source``.
    """
    rows = [{"phase": report.name, "training runs": runs, "read from the cache": cached,
             "wall time (s)": report.duration_s, "energy (kWh)": report.energy_kwh,
             "CO2eq (kg)": report.emissions_kg, "training time when trained (s)": trained_s,
             "tracking mode": report.tracking_mode, "CPU power source": report.cpu_power_source}
            for report, runs, cached, trained_s in phases]
    return pd.DataFrame(rows).set_index("phase")


def reproduce(root=None, *, clip_seconds: float | None = None, baseline_epochs: int | None = None,
              finetune_epochs: int = 5, seeds=(0, 1, 2), layer_sets=LAYER_SETS,
              fewer_examples: bool = True, fractions=None, country_iso_code: str = "GBR",
              out_dir="results",
              engine=None, progress: bool = True) -> dict:
    """The whole study: baseline, pruning grid, fewer-examples sweep, energy; tables on disk.

    Used by: Chapter 7 and ``audioprune reproduce``.

    Parameters
    ----------
    root : str or Path, optional
        A data set in the TAU 2020 Mobile layout; by default the book's offline scenes.
    clip_seconds : float, optional
        Trim or pad clips to this length (TAU's are 10 s).
    baseline_epochs : int, optional
        Training epochs of the baseline (default: the book's setting).
    finetune_epochs : int
        Epochs of each fine-tuning run.
    seeds : sequence of int
    layer_sets : dict of str to tuple of str
        The rows of the pruning table (default: all six of the papers').
    fewer_examples : bool
        Also run the fewer-examples study: the papers' grid (cosine-pruned, l1-pruned and
        random weights on chapter 5's shares of the data) and the unpruned network
        fine-tuned alike, all with these seeds and ``finetune_epochs``, the papers' recipe
        (chapter 5 trains the random weights to convergence instead).
    fractions : sequence of float, optional
        The shares of the training data of that study (default: chapter 5's).
    country_iso_code : str
        Grid whose carbon intensity turns energy into CO2.
    out_dir : str or Path
        Where ``pruning_runs.csv``, ``pruning_summary.csv`` and ``.md``, ``beside_paper.csv``
        and ``.md`` (:func:`beside_paper`), ``fewer_examples.csv`` and ``energy.csv`` are
        written, each whole or not at all (:func:`audioprune_lite.store.atomic_write_text`).
    engine : LocalEngine or RayEngine, optional
        Where the training runs run (:mod:`audioprune_lite.engine`); by default one after
        another in this process. With a :class:`~audioprune_lite.engine.RayEngine`,
        ``energy.csv`` has a row per phase and node (each run measured in its own process
        where it ran) and ``cluster_runs.csv`` says where each run ran and how long it took.
    progress : bool

    Returns
    -------
    dict
        ``"pruning_runs"``, ``"pruning_summary"``, ``"beside_paper"``, ``"fewer_examples"`` (or None),
        ``"energy"`` (:func:`_energy_table`: one row per phase, what this call measured
        and how many of the phase's training runs it read from the cache),
        ``"baseline_accuracy"``, ``"out_dir"``, and the ``"baseline"`` (with its training
        ``"baseline_history"``) and ``"features"`` the run used.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or LocalEngine(progress=progress)
    with engine.session():
        features = default_features(root, progress=progress, duration=clip_seconds)
        training = {} if baseline_epochs is None else {"epochs": baseline_epochs}
        energy = []
        with carbon.track("baseline training", country_iso_code=country_iso_code) as report:
            [((baseline, history), was_cached)] = engine.run(
                [baseline_run(features, progress, **training)], "baseline training")
        energy.append((report, 1, int(was_cached), history.wall_time_s))
        baseline_history = history
        with carbon.track("pruning + fine-tuning", country_iso_code=country_iso_code) as report:
            runs = pruning_study(baseline, features, seeds=seeds, epochs=finetune_epochs,
                                 layer_sets=layer_sets, progress=progress, engine=engine)
        tuned = runs[runs["method"] != "none"]
        energy.append((report, len(tuned), int(tuned["cached"].sum()), float(tuned["finetune_s"].sum())))
        summary = summarise_pruning(runs, n_eval=len(features.y_eval))
        study = None
        if fewer_examples:
            with carbon.track("fewer-examples study", country_iso_code=country_iso_code) as report:
                study = run_fewer_examples(
                    baseline, (features.X_train, features.y_train), (features.X_val, features.y_val),
                    (features.X_eval, features.y_eval), starts=(*STARTS, CONTROL),
                    fractions=fractions or STUDY_SETTINGS["fractions"], seeds=seeds, epochs=finetune_epochs,
                    country_iso_code=country_iso_code, csv_path=out_dir / "fewer_examples.csv",
                    progress=progress, engine=engine)
            trained = study[study["n_train"] > 0]
            energy.append((report, len(trained), int(trained["cached"].sum()),
                           float(trained["wall_time_s"].sum())))
    if isinstance(engine, LocalEngine):
        energy_table = _energy_table(energy)
    else:
        energy_table = engine.energy_by_node()
        atomic_write_text(out_dir / "cluster_runs.csv",
                          pd.DataFrame(engine.cluster_runs).to_csv(index=False))
    atomic_write_text(out_dir / "pruning_runs.csv", runs.to_csv(index=False))
    atomic_write_text(out_dir / "pruning_summary.csv", summary.to_csv())
    atomic_write_text(
        out_dir / "pruning_summary.md",
        f"Accuracy after fine-tuning, mean over {len(seeds)} seeds; the interval is the 95 % "
        "t-interval over seeds of that mean (empty for one run). The evaluation clips add "
        "their own uncertainty, the binomial column. Drops are in points of accuracy; a "
        "negative drop is a gain.\n\n" + summary.round(2).to_markdown() + "\n")
    comparison = beside_paper(summary)
    atomic_write_text(out_dir / "beside_paper.csv", comparison.to_csv())
    flat = comparison.round(1) + 0.0  # + 0.0 turns -0.0 into 0.0
    flat.columns = [f"{group}: {column}" for group, column in flat.columns]
    atomic_write_text(
        out_dir / "beside_paper.md",
        "Ours (this run) beside the published figures (Singh and Plumbley, Interspeech 2022; "
        "DCASE 2021 baseline on TAU 2020 Mobile, 30 epochs of fine-tuning). Drops are in "
        "points of accuracy; a negative drop is a gain.\n\n"
        + flat.astype(object).where(flat.notna(), "").to_markdown() + "\n")
    atomic_write_text(out_dir / "energy.csv", energy_table.to_csv())
    return {"pruning_runs": runs, "pruning_summary": summary, "beside_paper": comparison,
            "fewer_examples": study,
            "energy": energy_table, "baseline_accuracy": float(runs.iloc[0]["accuracy"]),
            "out_dir": out_dir, "baseline": baseline, "baseline_history": baseline_history,
            "features": features}
