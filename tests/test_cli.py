"""The command line, end to end on a tiny offline data set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audioprune_lite import cli
from audioprune_lite.data import make_synthetic_scenes
from audioprune_lite.reproduce import LAYER_SETS, PAPER_PRUNING_TABLE
from audioprune_lite.train import load_model


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "scenes"
    return make_synthetic_scenes(root, clips_per_class=12, duration=0.2, seed=1, progress=False)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path_factory.getbasetemp() / "home"))


def test_train_prune_finetune_chain(tiny_data, tmp_path, capsys):
    data = ["--data", str(tiny_data)]
    assert cli.main(["train", *data, "--epochs", "1", "--out", str(tmp_path / "b.pt")]) == 0
    assert cli.main(["prune", *data, "--model", str(tmp_path / "b.pt"), "--layers", "conv2,conv3",
                     "--ratio", "0.5", "--method", "l1", "--out", str(tmp_path / "p.pt")]) == 0
    assert load_model(tmp_path / "p.pt").config["channels"] == (16, 8, 16)
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
    assert (summary.drop(index="none", level=0)["params_cut_%"] > 0).all()
    control = summary.loc[("none", "fine-tuned")]
    assert control["params"] == summary.loc[("none", "none"), "params"] and control["seeds"] == 1
    np.testing.assert_allclose(summary["drop_vs_tuned_points"],
                               control["accuracy_%"] - summary["accuracy_%"])
    runs = pd.read_csv(results / "pruning_runs.csv")
    assert set(runs["seed"]) == {0} and len(runs) == len(summary)
    assert len(pd.read_csv(results / "fewer_examples.csv")) == 6 * 3
    assert set(pd.read_csv(results / "energy.csv")["name"]) == {
        "baseline training", "pruning + fine-tuning", "fewer-examples study"}
    beside = pd.read_csv(results / "beside_paper.csv", index_col=0, header=[0, 1])
    assert list(beside.index) == ["none", *LAYER_SETS]
    assert beside.loc["C2", ("paper", "cosine acc %")] == PAPER_PRUNING_TABLE.loc["C2", "cosine acc %"]
    assert np.allclose(beside[("ours", "params cut %")].drop("none"),
                       summary.xs("cosine", level=1)["params_cut_%"].loc[list(LAYER_SETS)])
    capsys.readouterr()
    assert cli.main(["report", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "C1+C2+C3" in out and "published figures" in out


def test_errors_have_meaningful_exit_codes(tmp_path, capsys):
    assert cli.main(["prepare", "--data", str(tmp_path / "missing")]) == 3
    assert "make_synthetic_scenes" in capsys.readouterr().err
    assert cli.main(["report", "--results", str(tmp_path)]) == 1
    assert cli.main(["prune", "--model", str(tmp_path / "none.pt")]) == 1
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["prune"])
    assert exit_info.value.code == 2
