"""The fewer-examples study: starting points and the unpruned control, fixed epochs and early
stopping, the tidy table, its cache, and the seed-by-seed reading of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from audioprune_lite import fewer_examples
from audioprune_lite.fewer_examples import (ALL_STARTS, COLUMNS, CONTROL, SCRATCH_SETTINGS, STARTS,
                                            START_LABELS, STUDY_SETTINGS, paired_differences,
                                            random_start, run_fewer_examples,
                                            seed_summary)
from audioprune_lite.experiments import BASELINE_TRAINING
from audioprune_lite.models import DCASE21Baseline
from audioprune_lite.pruning import prune_model, pruning_plans
from audioprune_lite.metrics import count_params, seed_interval
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
    assert (table["max_epochs"] == 1).all() and (table["patience"] == 0).all()
    assert (tuned["best_epoch"] == 1).all() and (untouched["best_epoch"] == 0).all()
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
    with pytest.raises(ValueError, match="patience must be at least 1"):
        run_fewer_examples(model, train, val, test, patience=0, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        run_fewer_examples(model, train, val, test, epochs=0, cache_dir=tmp_path)


def test_the_starts_are_the_papers_three_and_the_control():
    assert STARTS == ("cosine", "l1", "random")  # the papers' table, in its order
    assert ALL_STARTS == (*STARTS, CONTROL) and CONTROL == "unpruned"
    assert list(START_LABELS) == list(ALL_STARTS)
    assert len(set(START_LABELS.values())) == len(ALL_STARTS)


def test_the_book_settings_fine_tune_alike_and_train_from_scratch_to_convergence():
    assert set(STUDY_SETTINGS["starts"]) == {"cosine", "l1", CONTROL}
    assert "patience" not in STUDY_SETTINGS  # a fixed number of epochs, the papers' recipe
    assert SCRATCH_SETTINGS["starts"] == ("random",)
    assert SCRATCH_SETTINGS["patience"] == BASELINE_TRAINING["patience"]
    assert SCRATCH_SETTINGS["epochs"] == BASELINE_TRAINING["epochs"]
    # all the data (where the papers found random weights level), the untrained network,
    # and seeds the fine-tuning arms also ran, so that differences can be paired by seed
    assert {1.0, 0.0} <= set(SCRATCH_SETTINGS["fractions"]) <= set(STUDY_SETTINGS["fractions"])
    assert set(SCRATCH_SETTINGS["seeds"]) <= set(STUDY_SETTINGS["seeds"])
    assert len(SCRATCH_SETTINGS["seeds"]) >= 2  # enough for a t-interval
    for key in ("lr", "batch_size"):
        assert SCRATCH_SETTINGS[key] == STUDY_SETTINGS[key]


def test_the_unpruned_control_is_the_baseline_fine_tuned_alike(study, tmp_path):
    model, train, val, test = study
    table = run_fewer_examples(model, train, val, test, **GRID, starts=("cosine", CONTROL),
                               cache_dir=tmp_path, progress=False)
    control = table[table["start"] == CONTROL]
    assert len(control) == 3 * 2
    assert (control["params"] == count_params(model)).all()
    assert (table.loc[table["start"] == "cosine", "params"] < count_params(model)).all()
    # at 0 % the control is the network as trained, which fine-tuning left untouched
    as_trained = evaluate(model, *test)
    zero = control[control["fraction"] == 0]
    assert np.allclose(zero["accuracy"], as_trained["accuracy"])
    assert np.allclose(zero["log_loss"], as_trained["log_loss"])
    assert (zero["epochs"] == 0).all()
    # fine-tuned alike: the same subsets (n_train), epochs and seeds as the pruned start
    tuned = table[table["fraction"] > 0].set_index(["fraction", "seed"])
    pd.testing.assert_frame_equal(
        tuned.loc[tuned["start"] == CONTROL, ["n_train", "epochs", "max_epochs"]],
        tuned.loc[tuned["start"] == "cosine", ["n_train", "epochs", "max_epochs"]])


def test_early_stopping_records_the_epochs_run_and_the_best(study, tmp_path):
    model, train, val, test = study
    val = (val[0], (val[1] + 1) % N_CLASSES)  # labels the training data contradicts: no convergence
    table = run_fewer_examples(model, train, val, test, fractions=(1.0, 0.0), starts=("random",),
                               seeds=(0, 1), epochs=40, patience=1, cache_dir=tmp_path,
                               progress=False)
    tuned = table[table["fraction"] > 0]
    assert (table["max_epochs"] == 40).all() and (table["patience"] == 1).all()
    assert (tuned["epochs"] <= 40).all() and (tuned["best_epoch"] >= 1).all()
    # a run either stopped one epoch after its best one, or ran out of epochs
    stopped = tuned["epochs"] - tuned["best_epoch"] == 1
    assert (stopped | (tuned["epochs"] == 40)).all()
    assert (tuned["epochs"] < 40).all()  # the validation loss soon stops falling
    zero = table[table["fraction"] == 0]
    assert (zero[["epochs", "best_epoch", "wall_time_s"]] == 0).all().all()


def test_early_stopping_is_part_of_the_cache_key(study, tmp_path, monkeypatch):
    model, train, val, test = study
    grid = {"fractions": (1.0,), "starts": ("random",), "seeds": (0,), "epochs": 5}
    run_fewer_examples(model, train, val, test, **grid, cache_dir=tmp_path, progress=False)
    fits = count_fits(monkeypatch)
    again = run_fewer_examples(model, train, val, test, **grid, cache_dir=tmp_path, progress=False)
    assert again["cached"].all() and fits == []
    early = run_fewer_examples(model, train, val, test, **grid, patience=2, cache_dir=tmp_path,
                               progress=False)
    assert fits == [0] and not early["cached"].any()


def test_seed_interval_is_the_t_interval_of_the_mean():
    # t(0.975, 2) = 4.303, s = 1, n = 3
    assert seed_interval([1.0, 2.0, 3.0]) == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
    assert seed_interval([1.0, 2.0, 3.0], confidence=0.9) == pytest.approx(
        2.9200 / np.sqrt(3), rel=1e-4)
    assert seed_interval([5.0, 5.0]) == 0.0
    assert np.isnan(seed_interval([1.0]))


def made_up_table(rows) -> pd.DataFrame:
    """Runs with only the columns the summaries read: (start, fraction, seed, accuracy)."""
    return pd.DataFrame(rows, columns=["start", "fraction", "seed", "accuracy"])


def test_seed_summary_gives_mean_and_interval_in_percent():
    table = made_up_table([("a", 1.0, 0, 0.50), ("a", 1.0, 1, 0.60), ("a", 1.0, 2, 0.70),
                           ("a", 0.1, 0, 0.30), ("b", 1.0, 0, 0.40)])
    summary = seed_summary(table)
    assert list(summary.index) == [("a", 100), ("a", 10), ("b", 100)]
    assert summary.loc[("a", 100), "seeds"] == 3
    assert summary.loc[("a", 100), "mean"] == pytest.approx(60.0)
    assert summary.loc[("a", 100), "half_width"] == pytest.approx(seed_interval([50, 60, 70]))
    assert np.isnan(summary.loc[("b", 100), "half_width"])
    times = made_up_table([("a", 1.0, 0, 2.0), ("a", 1.0, 1, 4.0)]).rename(
        columns={"accuracy": "wall_time_s"})
    assert seed_summary(times, "wall_time_s").loc[("a", 100), "mean"] == pytest.approx(3.0)


def test_paired_differences_pair_runs_by_seed_and_apply_the_rule():
    rows = []
    for seed, (a, b) in enumerate([(0.60, 0.50), (0.71, 0.60), (0.59, 0.50)]):
        rows += [("a", 1.0, seed, a), ("b", 1.0, seed, b)]  # a ahead by 9 to 11 points each seed
    for seed, (a, b) in enumerate([(0.60, 0.50), (0.40, 0.50), (0.52, 0.50)]):
        rows += [("a", 0.5, seed, a), ("b", 0.5, seed, b)]  # +10, -10, +2: noise
    rows += [("a", 0.25, 0, 0.9), ("b", 0.25, 0, 0.1), ("a", 0.25, 1, 0.9)]  # one pair only
    rows += [("a", 0.1, 0, 0.9)]  # only one side ran this share
    result = paired_differences(made_up_table(rows), "a", "b")
    assert list(result.index) == [100, 50, 25]
    assert list(result["seeds"]) == [3, 3, 1]
    assert result.loc[100, "difference"] == pytest.approx(10.0)
    assert result.loc[100, "half_width"] == pytest.approx(seed_interval([10, 11, 9]))
    assert result.loc[100, "beyond_noise"]
    assert result.loc[50, "difference"] == pytest.approx(2 / 3)
    assert not result.loc[50, "beyond_noise"]
    assert np.isnan(result.loc[25, "half_width"]) and not result.loc[25, "beyond_noise"]
    swapped = paired_differences(made_up_table(rows), "b", "a")
    assert np.allclose(swapped["difference"], -result["difference"])
    with pytest.raises(ValueError, match="no runs of both"):
        paired_differences(made_up_table(rows), "a", "c")


def test_book_study_runs_the_fixed_arms_and_the_scratch_arm(monkeypatch, tmp_path):
    calls = []

    def fake_run(model, train, val, test, **settings):
        calls.append(settings)
        return pd.DataFrame([{"start": start, "fraction": 1.0, "seed": 0}
                             for start in settings["starts"]])

    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path))
    monkeypatch.setattr(fewer_examples, "run_fewer_examples", fake_run)
    monkeypatch.setattr(fewer_examples, "trained_baseline", lambda features, progress: (None, None, True))
    features = type("Features", (), {name: None for name in (
        "X_train", "y_train", "X_val", "y_val", "X_eval", "y_eval")})()
    table = fewer_examples.book_study(features, progress=False)
    assert [{k: v for k, v in call.items() if k != "progress"} for call in calls] == [
        STUDY_SETTINGS, SCRATCH_SETTINGS]
    assert list(table["start"]) == [*STUDY_SETTINGS["starts"], *SCRATCH_SETTINGS["starts"]]
    assert len(pd.read_csv(tmp_path / "results" / "fewer-examples.csv")) == len(table)
