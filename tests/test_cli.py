"""The command line, end to end on a tiny offline data set, and the summary table it writes."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch

from audioprune_lite import cli
from audioprune_lite.extras import require
from audioprune_lite.pruning import CRITERIA, pruning_plans
from audioprune_lite.published import PRUNING_TABLE
from audioprune_lite.metrics import seed_interval
from audioprune_lite.reproduce import BINOMIAL, DROP_INTERVAL, INTERVAL, LAYER_SETS, summarise_pruning
from audioprune_lite.train import load_model


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path_factory.getbasetemp() / "home"))


def test_train_prune_finetune_chain(tiny_data, tmp_path, capsys):
    data = ["--data", str(tiny_data)]
    assert cli.main(["train", *data, "--epochs", "1", "--out", str(tmp_path / "b.pt")]) == 0
    assert cli.main(["prune", *data, "--model", str(tmp_path / "b.pt"), "--layers", "conv2,conv3",
                     "--ratio", "0.5", "--method", "l1", "--out", str(tmp_path / "p.pt")]) == 0
    assert load_model(tmp_path / "p.pt").config["channels"] == (16, 8, 16)
    assert cli.main(["prune", *data, "--model", str(tmp_path / "b.pt"), "--method", "random",
                     "--seed", "3", "--out", str(tmp_path / "r.pt")]) == 0
    baseline, randomly = load_model(tmp_path / "b.pt"), load_model(tmp_path / "r.pt")
    plans = pruning_plans(baseline, methods=["cosine", "random"], seed=3)  # the greedy counts
    assert randomly.config["channels"] == tuple(len(kept) for kept in plans["cosine"].values())
    assert torch.equal(randomly.conv2.weight,
                       baseline.conv2.weight[plans["random"]["conv2"]][:, plans["random"]["conv1"]])
    assert cli.main(["finetune", *data, "--model", str(tmp_path / "p.pt"), "--epochs", "1",
                     "--fraction", "0.5", "--out", str(tmp_path / "f.pt")]) == 0
    out = capsys.readouterr().out
    assert "evaluation accuracy" in out and "saved" in out


def test_reproduce_writes_the_tables_and_report_prints_them(tiny_data, tmp_path, capsys):
    results = tmp_path / "results"
    code = cli.main(["reproduce", "--data", str(tiny_data), "--epochs", "1", "--finetune-epochs", "1",
                     "--seeds", "0", "--out", str(results)])
    assert code == 0
    summary = pd.read_csv(results / "pruning_summary.csv", index_col=[0, 1])
    assert len(summary) == 2 + 2 * len(LAYER_SETS)  # the baseline as trained and fine-tuned alike
    assert (summary.drop(index="none", level=0)["parameters cut (%)"] > 0).all()
    control = summary.loc[("none", "fine-tuned")]
    assert control["parameters"] == summary.loc[("none", "none"), "parameters"]
    assert control["seeds"] == 1 and np.isnan(control[INTERVAL])  # one seed: no interval
    assert control["drop from unpruned fine-tuned alike (points)"] == 0
    assert summary.loc[("none", "none"), "drop from unpruned as trained (points)"] == 0
    assert "MACs per 0.2-s clip (M)" in summary.columns  # the clip length of tiny_data
    runs = pd.read_csv(results / "pruning_runs.csv")
    assert set(runs["seed"]) == {0} and len(runs) == len(summary)
    fewer = pd.read_csv(results / "fewer_examples.csv")
    assert len(fewer) == 6 * 4 and set(fewer["start"]) == {"cosine", "l1", "random", "unpruned"}
    energy = pd.read_csv(results / "energy.csv", index_col="phase")
    assert set(energy.index) == {"baseline training", "pruning + fine-tuning", "fewer-examples study"}
    assert list(energy["training runs"]) == [1, 1 + 2 * len(LAYER_SETS), 4 * 5]
    assert energy.loc["pruning + fine-tuning", "read from the cache"] == 0  # trained here
    beside = pd.read_csv(results / "beside_paper.csv", index_col=0, header=[0, 1])
    assert list(beside.index) == ["none", *LAYER_SETS]
    assert beside.loc["C2", ("paper", "cosine accuracy (%)")] == PRUNING_TABLE.loc["C2", "cosine acc %"]
    assert np.allclose(beside[("ours", "parameters cut (%)")].drop("none"),
                       summary.xs("cosine", level=1)["parameters cut (%)"].loc[list(LAYER_SETS)])
    capsys.readouterr()
    assert cli.main(["reproduce", "--data", str(tiny_data), "--epochs", "1", "--finetune-epochs", "1",
                     "--seeds", "0", "--out", str(results)]) == 0
    assert "(read 1 of 1 training runs from the cache)" in capsys.readouterr().out
    energy = pd.read_csv(results / "energy.csv", index_col="phase")
    assert (energy["read from the cache"] == energy["training runs"]).all()  # a cached phase says so
    assert energy["training time when trained (s)"].gt(0).all()
    assert cli.main(["report", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "C1+C2+C3" in out and "published figures" in out


def test_the_pruning_summary_against_figures_worked_by_hand():
    columns = [
        "pruned", "method", "params", "params_keras", "macs", "accuracy_before", "accuracy", "seed",
    ]
    runs = pd.DataFrame([
        ("none", "none", 100, 110, 1000, 0.80, 0.80, 0),
        ("none", "fine-tuned", 100, 110, 1000, 0.80, 0.85, 0),
        ("none", "fine-tuned", 100, 110, 1000, 0.80, 0.87, 1),
        ("C1", "cosine", 75, 80, 800, 0.60, 0.83, 0),
        ("C1", "cosine", 75, 80, 800, 0.62, 0.81, 1),
    ], columns=columns)
    summary = summarise_pruning(runs, n_eval=100)
    pruned = summary.loc[("C1", "cosine")]
    assert pruned["parameters cut (%)"] == pytest.approx(25)
    assert pruned["MACs cut (%)"] == pytest.approx(20)
    assert pruned["MACs per input (M)"] == pytest.approx(0.0008)  # no clip_s column: "per input"
    assert (pruned["accuracy before fine-tuning (%)"], pruned["accuracy (%)"]) == pytest.approx((61, 82))
    # better than the baseline as trained (80 %), worse than it fine-tuned alike (86 %)
    assert pruned["drop from unpruned as trained (points)"] == pytest.approx(-2)
    assert pruned["drop from unpruned fine-tuned alike (points)"] == pytest.approx(4)
    assert pruned["seeds"] == 2 and pruned["parameters (Keras count)"] == 80
    # the drop seed by seed: 0.85 - 0.83 and 0.87 - 0.81, 2 and 6 points: 12.706 x 2 sqrt(2) / sqrt(2)
    assert pruned[DROP_INTERVAL] == pytest.approx(12.706 * 2, rel=1e-3)
    assert summary.loc[("none", "fine-tuned"), DROP_INTERVAL] == 0
    # the interval: over two seeds, t(0.975, 1 d.f.) = 12.706 times the standard deviation
    # 0.01 sqrt(2), over sqrt(2); one run has none. The binomial term is reported apart:
    # 1.96 sqrt(0.8 x 0.2 / 100) for the baseline's 80 % on 100 clips.
    assert pruned[INTERVAL] == pytest.approx(12.706, rel=1e-3)
    assert np.isnan(summary.loc[("none", "none"), INTERVAL])
    assert summary.loc[("none", "none"), BINOMIAL] == pytest.approx(7.84, rel=1e-3)
    assert pruned[BINOMIAL] == pytest.approx(100 * 1.96 * np.sqrt(0.82 * 0.18 / 100))
    with_clips = summarise_pruning(runs.assign(clip_s=10.0), n_eval=100)
    assert with_clips.loc[("C1", "cosine"), "MACs per 10-s clip (M)"] == pytest.approx(0.0008)


def test_the_seed_interval_is_a_t_interval():
    assert seed_interval([0.5, 0.6, 0.7]) == pytest.approx(4.3027 * 0.1 / np.sqrt(3), rel=1e-4)
    assert np.isnan(seed_interval([0.5]))


def test_errors_have_meaningful_exit_codes(tmp_path, capsys):
    assert cli.main(["prepare", "--data", str(tmp_path / "missing")]) == 3
    assert "make_synthetic_scenes" in capsys.readouterr().err
    assert cli.main(["report", "--results", str(tmp_path)]) == 1
    assert cli.main(["prune", "--model", str(tmp_path / "none.pt")]) == 1
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["prune"])
    assert exit_info.value.code == 2


def test_the_prune_methods_are_the_criteria_registry(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["prune", "--model", "baseline.pt", "--method", "l2"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice" in error and all(name in error for name in CRITERIA)
    with pytest.raises(SystemExit):
        cli.main(["prune", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, at hyphens too
    for name, criterion in CRITERIA.items():
        assert "".join(f"{name}: {criterion.description}".split()) in help_text


def test_a_missing_extra_is_one_line_and_exit_code_1(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # as if it were not installed

    def needs_torch_pruning(args) -> int:
        require("torch_pruning", extra="book")
        return 0

    monkeypatch.setattr(cli, "report", needs_torch_pruning)
    assert cli.main(["report"]) == 1
    assert capsys.readouterr().err == (
        "audioprune report: torch_pruning is not installed: pip install 'audioprune_lite[book]'\n")
