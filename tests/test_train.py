"""Tests of audioprune_lite.train: fitting, evaluating, splitting, saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from audioprune_lite.models import DCASE21Baseline
from audioprune_lite.train import (
    evaluate, fit, load_model, location_split, save_model, stratified_subset,
)


def separable_data(n=120, seed=0, n_classes=3):
    """Inputs whose class sets the level of one band: easy to learn in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    X = rng.normal(size=(n, 1, 40, 20)).astype(np.float32)
    X[np.arange(n), 0, 5 + 10 * y, :] += 4.0
    return X, y


def small_model(seed=0):
    torch.manual_seed(seed)
    model = DCASE21Baseline(n_classes=3, channels=(4, 4, 8))
    return model


def test_fit_learns_and_restores_the_best_validation_epoch():
    X, y = separable_data()
    model = small_model()
    history = fit(model, (X[:90], y[:90]), (X[90:], y[90:]), epochs=8, batch_size=16,
                  progress=False)
    assert len(history.train_loss) == len(history.val_loss) == 8
    assert history.val_loss[history.best_epoch - 1] == min(history.val_loss)
    result = evaluate(model, X[90:], y[90:])
    assert result["accuracy"] == pytest.approx(history.val_accuracy[history.best_epoch - 1])
    assert result["accuracy"] > 0.8
    assert history.examples_seen == 8 * 90 and history.wall_time_s > 0


def test_same_seed_gives_the_same_weights_and_another_seed_does_not():
    X, y = separable_data()
    runs = []
    for seed in (0, 0, 1):
        model = small_model()
        fit(model, (X[:90], y[:90]), (X[90:], y[90:]), epochs=2, seed=seed, progress=False)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_labels_outside_the_classes_are_refused_before_training():
    X, y = separable_data()
    y = y.copy()
    y[3] = 7
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"range\(3\).*7"):
        fit(model, (X, y), (X, y), epochs=1, progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="one label per example"):
        fit(model, (X, y[:-1]), (X, y), epochs=1, progress=False)


def test_evaluate_counts_a_confusion_matrix_and_devices():
    X, y = separable_data(n=60)
    model = small_model()
    devices = np.array(["a", "s4"] * 30)
    result = evaluate(model, X, y, devices=devices)
    confusion = result["confusion"]
    assert confusion.sum() == 60 and confusion.trace() == round(result["accuracy"] * 60)
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(y, minlength=3))
    hits = result["predictions"] == y
    assert result["per_device_accuracy"] == {"a": hits[::2].mean(), "s4": hits[1::2].mean()}
    assert result["log_loss"] > 0


def test_location_split_keeps_locations_whole_and_covers_every_class():
    rows = [(f"city-{loc}", loc % 5) for loc in range(40) for _ in range(3)]
    table = pd.DataFrame(rows, columns=["identifier", "label"])
    train_index, val_index = location_split(table, fraction=0.25, seed=1)
    assert len(train_index) + len(val_index) == len(table)
    train_locations = set(table["identifier"].iloc[train_index])
    val_locations = set(table["identifier"].iloc[val_index])
    assert not train_locations & val_locations
    assert set(table["label"].iloc[val_index]) == set(range(5))
    assert set(table["label"].iloc[train_index]) == set(range(5))
    assert len(val_locations) == 10  # a quarter of each class's 8 locations
    again = location_split(table, fraction=0.25, seed=1)
    np.testing.assert_array_equal(again[1], val_index)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_stratified_subset_keeps_class_shares(fraction):
    y = np.repeat(np.arange(4), [10, 25, 7, 58])
    subset = stratified_subset(y, fraction, seed=3)
    assert len(subset) == len(set(subset)) == round(fraction * len(y))
    counts = np.bincount(y[subset], minlength=4)
    assert np.all(np.abs(counts - fraction * np.bincount(y)) < 1)
    np.testing.assert_array_equal(subset, stratified_subset(y, fraction, seed=3))


def test_stratified_subset_depends_on_the_seed_and_refuses_bad_fractions():
    y = np.repeat(np.arange(3), 20)
    assert not np.array_equal(stratified_subset(y, 0.5, 0), stratified_subset(y, 0.5, 1))
    with pytest.raises(ValueError, match="fraction"):
        stratified_subset(y, 1.5)


def test_save_and_load_round_trip(tmp_path):
    model = small_model()
    model.set_input_statistics(np.random.default_rng(0).normal(size=(10, 1, 40, 20)))
    path = save_model(model, tmp_path / "models" / "m.pt")
    loaded = load_model(path)
    assert loaded.config == model.config
    x = torch.randn(2, 1, 40, 20)
    torch.testing.assert_close(loaded(x), model.eval()(x))
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["m.pt"]


def test_a_file_that_is_not_a_saved_model_gets_a_clear_error(tmp_path):
    other = tmp_path / "weights.pt"
    torch.save(small_model().state_dict(), other)
    with pytest.raises(ValueError, match="not a model saved by"):
        load_model(other)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a model saved by"):
        load_model(text)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


def test_location_split_needs_two_locations_in_some_class():
    table = pd.DataFrame({"identifier": ["a-1", "a-1", "b-2"], "label": [0, 0, 1]})
    with pytest.raises(ValueError, match="two recording locations"):
        location_split(table)
