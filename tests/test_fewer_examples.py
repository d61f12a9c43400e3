"""The fewer-examples study: starting points, the tidy table, and its cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from audioprune_lite import fewer_examples
from audioprune_lite.fewer_examples import COLUMNS, random_start, run_fewer_examples
from audioprune_lite.models import DCASE21Baseline
from audioprune_lite.pruning import prune_model, pruning_plans
from audioprune_lite.train import evaluate


N_CLASSES = 4
GRID = {"fractions": (1.0, 0.5, 0.0), "seeds": (0, 1), "epochs": 1}


def scenes(n: int, seed: int):
    """Tiny inputs (n, 1, 8 bands, 12 frames) whose class shows in the mean of one band."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    X = rng.normal(size=(n, 1, 8, 12)).astype(np.float32)
    X[np.arange(n), 0, y] += 2.0
    return X, y


@pytest.fixture
def study():
    torch.manual_seed(0)
    model = DCASE21Baseline(n_classes=N_CLASSES, n_mels=8)
    train, val, test = scenes(40, 0), scenes(16, 1), scenes(16, 2)
    model.set_input_statistics(train[0])
    return model, train, val, test


def count_fits(monkeypatch) -> list:
    calls = []
    original = fewer_examples.fit

    def counting_fit(*args, **kwargs):
        calls.append(kwargs["seed"])
        return original(*args, **kwargs)

    monkeypatch.setattr(fewer_examples, "fit", counting_fit)
    return calls


def test_random_start_has_the_architecture_but_new_weights(study):
    pruned = prune_model(study[0], pruning_plans(study[0])["cosine"])
    first, again, other = random_start(pruned, 3), random_start(pruned, 3), random_start(pruned, 4)
    assert first.config == pruned.config
    assert torch.equal(first.input_mean, pruned.input_mean)
    assert not torch.equal(first.conv2.weight, pruned.conv2.weight)
    assert torch.equal(first.conv2.weight, again.conv2.weight)
    assert not torch.equal(first.conv2.weight, other.conv2.weight)
    assert torch.equal(first.bn2.running_var, torch.ones_like(first.bn2.running_var))


def test_table_is_tidy_and_sane(study, tmp_path):
    model, train, val, test = study
    table = run_fewer_examples(model, train, val, test, **GRID, cache_dir=tmp_path / "runs",
                               csv_path=tmp_path / "table.csv", progress=False)
    assert list(table.columns) == COLUMNS
    assert len(table) == 3 * 3 * 2
    assert table.groupby(["start", "fraction", "seed"]).size().eq(1).all()
    assert not table["cached"].any()
    n_train = table.groupby("fraction")["n_train"].unique()
    assert [list(n_train[f]) for f in (0.0, 0.5, 1.0)] == [[0], [20], [40]]
    untouched = table[table["fraction"] == 0]
    assert (untouched[["epochs", "wall_time_s", "energy_kwh", "emissions_kg"]] == 0).all().all()
    tuned = table[table["fraction"] > 0]
    assert (tuned["epochs"] == 1).all() and (tuned["wall_time_s"] > 0).all()
    assert (tuned["energy_kwh"] > 0).all() and (tuned["emissions_kg"] > 0).all()
    assert table["accuracy"].between(0, 1).all() and (table["log_loss"] > 0).all()
    assert table["params"].nunique() == 1
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "table.csv"), table, check_dtype=False)
    # 0 % is the starting point itself
    cosine = prune_model(model, pruning_plans(model)["cosine"])
    zero = table.query("start == 'cosine' and fraction == 0")["accuracy"]
    assert np.allclose(zero, evaluate(cosine, *test)["accuracy"])


def test_second_run_trains_nothing(study, tmp_path, monkeypatch):
    model, train, val, test = study
    first = run_fewer_examples(model, train, val, test, **GRID, cache_dir=tmp_path, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(fewer_examples, "fit", no_training)
    second = run_fewer_examples(model, train, val, test, **GRID, cache_dir=tmp_path, progress=False)
    assert second["cached"].all()
    pd.testing.assert_frame_equal(first.drop(columns="cached"), second.drop(columns="cached"))


def test_changed_inputs_retrain_what_they_change(study, tmp_path, monkeypatch):
    model, train, val, test = study
    run_fewer_examples(model, train, val, test, **GRID, cache_dir=tmp_path, progress=False)
    fits = count_fits(monkeypatch)
    tuned_per_seed = 3 * 2  # three starting points, two fractions above 0

    more_seeds = {**GRID, "seeds": (0, 1, 2)}
    table = run_fewer_examples(model, train, val, test, **more_seeds, cache_dir=tmp_path, progress=False)
    assert fits == [2] * tuned_per_seed
    assert (~table["cached"]).sum() == 3 * 3  # the new seed's runs, 0 % included

    fits.clear()
    changed = (train[0].copy(), train[1])
    changed[0][0, 0, 0, 0] += 1.0
    run_fewer_examples(model, changed, val, test, **GRID, cache_dir=tmp_path, progress=False)
    assert len(fits) == 2 * tuned_per_seed

    fits.clear()
    run_fewer_examples(model, train, val, test, **{**GRID, "epochs": 2}, cache_dir=tmp_path,
                       progress=False)
    assert len(fits) == 2 * tuned_per_seed


def test_bad_grids_are_refused(study, tmp_path):
    model, train, val, test = study
    with pytest.raises(ValueError, match="unknown starting points"):
        run_fewer_examples(model, train, val, test, starts=("cosine", "magnitude"), cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"fractions must lie in \[0, 1\]"):
        run_fewer_examples(model, train, val, test, fractions=(1.5,), cache_dir=tmp_path)
