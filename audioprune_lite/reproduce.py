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

import copy
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from . import carbon
from .experiments import SceneFeatures, cached_fit, default_features, trained_baseline
from .fewer_examples import STUDY_SETTINGS, run_fewer_examples
from .metrics import count_macs, count_params, count_params_keras
from .pruning import prune_model, pruning_plans
from .published import PRUNING_TABLE
from .train import evaluate

__all__ = ["LAYER_SETS", "beside_paper", "pruning_study", "reproduce", "summarise_pruning"]

LAYER_SETS = {
    "C1": ("conv1",), "C2": ("conv2",), "C3": ("conv3",), "C1+C2": ("conv1", "conv2"),
    "C2+C3": ("conv2", "conv3"), "C1+C2+C3": ("conv1", "conv2", "conv3"),
}
"""The pruned layers of each row of :data:`audioprune_lite.published.PRUNING_TABLE`."""


def pruning_study(baseline, features: SceneFeatures, *, seeds=(0, 1, 2), epochs: int = 5,
                  lr: float = 1e-3, batch_size: int = 32, layer_sets=LAYER_SETS,
                  progress: bool = True) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        One row per (pruned, method, seed): ``params``, ``params_keras``, ``macs`` (per
        input of the evaluation clips' length, full accounting), ``accuracy_before`` (no
        fine-tuning) and ``accuracy`` (after), ``finetune_s``; ``pruned`` is ``"none"``
        for the baseline as trained (method ``"none"``) and fine-tuned (``"fine-tuned"``).
    """
    shape = (1, *features.X_eval.shape[1:])
    base = evaluate(baseline, features.X_eval, features.y_eval)["accuracy"]
    rows = [{"pruned": "none", "method": "none", "seed": 0, "params": count_params(baseline),
             "params_keras": count_params_keras(baseline), "macs": count_macs(baseline, shape),
             "accuracy_before": base, "accuracy": base, "finetune_s": 0.0}]
    grid = [("none", "fine-tuned", seed) for seed in seeds]
    grid += [(name, method, seed) for name in layer_sets for method in ("cosine", "l1") for seed in seeds]
    plans = {name: pruning_plans(baseline, layers) for name, layers in layer_sets.items()}
    for name, method, seed in tqdm(grid, desc="prune + fine-tune", disable=not progress):
        pruned = baseline if name == "none" else prune_model(baseline, plans[name][method])
        before = base if name == "none" else evaluate(pruned, features.X_eval, features.y_eval)["accuracy"]
        tuned, history, _ = cached_fit(
            copy.deepcopy(pruned), (features.X_train, features.y_train),
            (features.X_val, features.y_val),
            name="unpruned" if name == "none" else f"pruned-{name}-{method}", progress=False,
            epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
        rows.append({"pruned": name, "method": method, "seed": seed,
                     "params": count_params(pruned), "params_keras": count_params_keras(pruned),
                     "macs": count_macs(pruned, shape), "accuracy_before": before,
                     "accuracy": evaluate(tuned, features.X_eval, features.y_eval)["accuracy"],
                     "finetune_s": history.wall_time_s})
    return pd.DataFrame(rows)


def summarise_pruning(runs: pd.DataFrame, n_eval: int) -> pd.DataFrame:
    """Mean over seeds per (pruned, method), with reductions and a 95 % confidence interval.

    The interval combines the spread over seeds (a t interval when there are several) with
    the sampling error of an accuracy measured on ``n_eval`` clips (binomial), whichever
    is wider, since a few hundred clips alone give about +-2 to 4 points.

    Used by: :func:`reproduce` and Chapter 8.

    Returns
    -------
    pandas.DataFrame
        Indexed by (pruned, method): ``params``, ``params_keras``, ``params_cut_%``,
        ``macs_M``, ``macs_cut_%``, ``accuracy_before_%``, ``accuracy_%``, ``ci95_%``,
        ``drop_points`` (the baseline as trained minus this row), ``drop_vs_tuned_points``
        (the baseline fine-tuned alike minus this row, if it was), ``seeds``.
    """
    base = runs[(runs["pruned"] == "none") & (runs["method"] == "none")].iloc[0]
    tuned_base = runs[(runs["pruned"] == "none") & (runs["method"] == "fine-tuned")]["accuracy"].mean()
    grouped = runs.groupby(["pruned", "method"], sort=False)
    table = grouped.agg(params=("params", "first"), params_keras=("params_keras", "first"),
                        macs=("macs", "first"), accuracy_before=("accuracy_before", "mean"),
                        accuracy=("accuracy", "mean"), spread=("accuracy", "std"),
                        seeds=("seed", "count"))
    binomial = 1.96 * np.sqrt(table["accuracy"] * (1 - table["accuracy"]) / n_eval)
    t_quantile = stats.t.ppf(0.975, np.maximum(table["seeds"] - 1, 1))
    over_seeds = table["spread"] * t_quantile / np.sqrt(table["seeds"])
    return pd.DataFrame({
        "params": table["params"], "params_keras": table["params_keras"],
        "params_cut_%": 100 * (1 - table["params"] / base["params"]),
        "macs_M": table["macs"] / 1e6, "macs_cut_%": 100 * (1 - table["macs"] / base["macs"]),
        "accuracy_before_%": 100 * table["accuracy_before"], "accuracy_%": 100 * table["accuracy"],
        "ci95_%": 100 * np.fmax(binomial, over_seeds.fillna(0)),
        "drop_points": 100 * (base["accuracy"] - table["accuracy"]),
        "drop_vs_tuned_points": 100 * (tuned_base - table["accuracy"]), "seeds": table["seeds"],
    })


def beside_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Our pruning table next to the published one, row by row (the papers' layer sets).

    The papers' parameter cut is computed from their Keras counts; their drop is the
    unpruned accuracy minus the cosine-pruned one after fine-tuning, as ours is. Ours adds
    the drop from the unpruned network fine-tuned alike, the fairer reference when the
    baseline has not converged (see :func:`pruning_study`).

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
        accuracy (%) and the drop in points; ours adds the MACs cut, the 95 % interval and
        the drop from the unpruned network fine-tuned alike.
    """
    cosine = summary.xs("cosine", level="method")
    rows = [name for name in PRUNING_TABLE.index if name == "none" or name in cosine.index]
    ours = pd.concat([summary.xs("none", level="method"), cosine]).loc[rows]
    l1 = summary.xs("l1", level="method")["accuracy_%"].reindex(rows)
    paper = PRUNING_TABLE.loc[rows]
    paper_base = PRUNING_TABLE.loc["none"]
    return pd.concat({
        "ours": pd.DataFrame({
            "params (Keras)": ours["params_keras"], "params cut %": ours["params_cut_%"],
            "MACs cut %": ours["macs_cut_%"], "cosine acc %": ours["accuracy_%"],
            "l1 acc %": l1, "95% CI +-": ours["ci95_%"], "drop (points)": ours["drop_points"],
            "drop vs fine-tuned unpruned": ours["drop_vs_tuned_points"]}),
        "paper": pd.DataFrame({
            "params (Keras)": paper["params (Keras count)"],
            "params cut %": 100 * (1 - paper["params (Keras count)"] / paper_base["params (Keras count)"]),
            "cosine acc %": paper["cosine acc %"], "l1 acc %": paper["l1 acc %"],
            "drop (points)": paper_base["cosine acc %"] - paper["cosine acc %"]}),
    }, axis=1)


def reproduce(root=None, *, clip_seconds: float | None = None, baseline_epochs: int | None = None,
              finetune_epochs: int = 5, seeds=(0, 1, 2), layer_sets=LAYER_SETS,
              fewer_examples: bool = True,
              country_iso_code: str = "GBR", out_dir="results", progress: bool = True) -> dict:
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
        Also run the fewer-examples study (chapter 5's grid with these seeds and epochs).
    country_iso_code : str
        Grid whose carbon intensity turns energy into CO2.
    out_dir : str or Path
        Where ``pruning_runs.csv``, ``pruning_summary.csv`` and ``.md``, ``beside_paper.csv``
        and ``.md`` (:func:`beside_paper`), ``fewer_examples.csv`` and ``energy.csv`` are
        written.
    progress : bool

    Returns
    -------
    dict
        ``"pruning_runs"``, ``"pruning_summary"``, ``"beside_paper"``, ``"fewer_examples"`` (or None),
        ``"energy"`` (one row per phase), ``"baseline_accuracy"``, ``"out_dir"``, and the
        ``"baseline"`` and ``"features"`` the run used.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    features = default_features(root, progress=progress, duration=clip_seconds)
    training = {} if baseline_epochs is None else {"epochs": baseline_epochs}
    energy = []
    with carbon.track("baseline training", country_iso_code=country_iso_code) as report:
        baseline, _, _ = trained_baseline(features, progress=progress, **training)
    energy.append(report)
    with carbon.track("pruning + fine-tuning", country_iso_code=country_iso_code) as report:
        runs = pruning_study(baseline, features, seeds=seeds, epochs=finetune_epochs,
                             layer_sets=layer_sets, progress=progress)
    energy.append(report)
    summary = summarise_pruning(runs, n_eval=len(features.y_eval))
    study = None
    if fewer_examples:
        with carbon.track("fewer-examples study", country_iso_code=country_iso_code) as report:
            study = run_fewer_examples(
                baseline, (features.X_train, features.y_train), (features.X_val, features.y_val),
                (features.X_eval, features.y_eval), fractions=STUDY_SETTINGS["fractions"],
                seeds=seeds, epochs=finetune_epochs, country_iso_code=country_iso_code,
                csv_path=out_dir / "fewer_examples.csv", progress=progress)
        energy.append(report)
    energy_table = pd.DataFrame([r.as_series() for r in energy]).set_index("name")
    runs.to_csv(out_dir / "pruning_runs.csv", index=False)
    summary.to_csv(out_dir / "pruning_summary.csv")
    (out_dir / "pruning_summary.md").write_text(summary.round(2).to_markdown() + "\n")
    comparison = beside_paper(summary)
    comparison.to_csv(out_dir / "beside_paper.csv")
    flat = comparison.round(1) + 0.0  # + 0.0 turns -0.0 into 0.0
    flat.columns = [f"{group}: {column}" for group, column in flat.columns]
    (out_dir / "beside_paper.md").write_text(
        "Ours (this run) beside the published figures (Singh and Plumbley, Interspeech 2022; "
        "DCASE 2021 baseline on TAU 2020 Mobile, 30 epochs of fine-tuning). Drops are in "
        "points of accuracy; a negative drop is a gain.\n\n"
        + flat.astype(object).where(flat.notna(), "").to_markdown() + "\n")
    energy_table.to_csv(out_dir / "energy.csv")
    return {"pruning_runs": runs, "pruning_summary": summary, "beside_paper": comparison,
            "fewer_examples": study,
            "energy": energy_table, "baseline_accuracy": float(runs.iloc[0]["accuracy"]),
            "out_dir": out_dir, "baseline": baseline, "features": features}
