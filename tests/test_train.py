"""Tests of audioprune_lite.train: fitting, evaluating, splitting, saving."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

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


def test_patience_stops_once_the_validation_loss_stops_improving():
    X, y = separable_data(n=200)
    X[100:150] = X[150:200]  # validation examples that contradict the training labels
    train, val = (X[:100], y[:100]), (X[100:150], (y[100:150] + 1) % 3)
    history = fit(small_model(), train, val, epochs=40, patience=3, batch_size=16, progress=False)
    epochs_run = len(history.val_loss)
    assert epochs_run < 40, "the validation loss rises as the network learns: training must stop"
    assert epochs_run == history.best_epoch + 3
    assert min(history.val_loss[history.best_epoch:]) >= history.val_loss[history.best_epoch - 1]
    assert history.examples_seen == epochs_run * 100


def test_patience_never_stops_a_run_that_keeps_improving_and_must_be_positive():
    X, y = separable_data()
    full = fit(small_model(), (X[:90], y[:90]), (X[90:], y[90:]), epochs=4, progress=False)
    patient = fit(small_model(), (X[:90], y[:90]), (X[90:], y[90:]), epochs=4, patience=4,
                  progress=False)
    assert len(patient.val_loss) == 4 and patient.val_loss == full.val_loss
    with pytest.raises(ValueError, match="patience must be at least 1"):
        fit(small_model(), (X[:90], y[:90]), (X[90:], y[90:]), epochs=4, patience=0, progress=False)


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


class FlakyValidation(nn.Module):
    """A linear classifier whose logits are NaN in the validation passes of ``nan_epochs``.

    It keeps a copy of its weights at every validation pass, to check which were restored.
    """

    def __init__(self, nan_epochs, n_classes=3):
        super().__init__()
        self.config = {"n_classes": n_classes}
        self.linear = nn.Linear(40 * 20, n_classes)
        self.nan_epochs, self.validations, self.weights_at_validation = set(nan_epochs), 0, []

    def forward(self, x):
        logits = self.linear(x.flatten(1))
        if not self.training:
            self.validations += 1
            self.weights_at_validation.append(self.linear.weight.detach().clone())
            if self.validations in self.nan_epochs:
                return torch.full_like(logits, float("nan"))
        return logits


def test_validation_loss_nan_in_every_epoch_is_a_clear_error():
    X, y = separable_data(n=40)
    with pytest.raises(ValueError, match=r"validation loss was NaN in every epoch.*"
                                         r"learning rate.*non-finite inputs"):
        fit(FlakyValidation(nan_epochs={1, 2, 3}), (X[:30], y[:30]), (X[30:], y[30:]), epochs=3,
            progress=False)


def test_nan_validation_epochs_are_skipped_when_choosing_the_best():
    X, y = separable_data(n=60)
    model = FlakyValidation(nan_epochs={2, 4})
    history = fit(model, (X[:45], y[:45]), (X[45:], y[45:]), epochs=4, lr=1e-2, progress=False)
    assert np.isnan(history.val_loss[1]) and np.isnan(history.val_loss[3])
    finite = [history.val_loss[0], history.val_loss[2]]
    assert history.best_epoch in (1, 3) and history.val_loss[history.best_epoch - 1] == min(finite)
    restored = model.weights_at_validation[history.best_epoch - 1]
    torch.testing.assert_close(model.linear.weight, restored)


def test_non_finite_inputs_are_refused_before_training():
    X, y = separable_data(n=40)
    for bad in (float("nan"), float("inf")):
        broken = X.copy()
        broken[7, 0, 3, 2] = bad
        model = small_model()
        before = copy.deepcopy(model.state_dict())
        with pytest.raises(ValueError, match=r"train: .*non-finite.*example 7"):
            fit(model, (broken, y), (X, y), epochs=1, progress=False)
        with pytest.raises(ValueError, match=r"val: .*non-finite.*example 7"):
            fit(model, (X, y), (broken, y), epochs=1, progress=False)
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_non_finite_inputs_from_a_data_loader_end_in_the_clear_error():
    X, y = separable_data(n=40)
    X[0, 0, 0, 0] = np.nan  # a DataLoader is not inspected beforehand: the NaN reaches the weights
    loader = DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size=8)
    with pytest.raises(ValueError, match="validation loss was NaN in every epoch"):
        fit(small_model(), loader, (X[1:], y[1:]), epochs=2, progress=False)


class GivenLogits(nn.Module):
    """A 'network' whose logits are its input: ``x[:, 0, 0, :]``."""

    config = {"n_classes": 3}

    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(1, 1)  # evaluate reads the device from a parameter

    def forward(self, x):
        return x[:, 0, 0, :]


def test_evaluate_against_counts_made_by_hand():
    # the logits log(0.5), log(0.25), log(0.25) put 0.5 on the predicted class
    logits = {c: np.log(np.roll([0.5, 0.25, 0.25], c)) for c in range(3)}
    true = np.array([0, 0, 0, 1, 1, 0])
    predicted = [0, 0, 1, 1, 0, 2]
    X = np.array([logits[c] for c in predicted], dtype=np.float32).reshape(6, 1, 1, 3)
    devices = np.array(["a", "a", "b", "b", "b", "s4"])
    result = evaluate(GivenLogits(), X, true, devices=devices)
    assert result["predictions"].tolist() == predicted
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["confusion"].tolist() == [[2, 1, 1], [1, 1, 0], [0, 0, 0]]
    np.testing.assert_allclose(result["per_class_accuracy"], [2 / 4, 1 / 2, np.nan])
    assert result["per_device_accuracy"] == pytest.approx({"a": 1.0, "b": 1 / 3, "s4": 0.0})
    # right: probability 0.5 (3 times); wrong: 0.25 (3 times)
    assert result["log_loss"] == pytest.approx(-(3 * np.log(0.5) + 3 * np.log(0.25)) / 6, rel=1e-6)


def test_location_split_takes_a_quarter_of_each_class_locations():
    rows = [(f"city-{loc}", loc % 5) for loc in range(40) for _ in range(3)]
    table = pd.DataFrame(rows, columns=["identifier", "label"])
    _, val_index = location_split(table, fraction=0.25, seed=1)
    val_locations = table.iloc[val_index].groupby("label")["identifier"].nunique()
    assert val_locations.to_dict() == {label: 2 for label in range(5)}  # a quarter of 8 each


@st.composite
def recording_tables(draw):
    """Training tables: 1-30 locations, each of one class (0-3), 1-4 clips each, rows shuffled."""
    labels = draw(st.lists(st.integers(0, 3), min_size=1, max_size=30))
    clips = draw(st.lists(st.integers(1, 4), min_size=len(labels), max_size=len(labels)))
    rows = [(f"city-{location}", label) for location, (label, n) in enumerate(zip(labels, clips))
            for _ in range(n)]
    order = draw(st.permutations(range(len(rows))))
    return pd.DataFrame([rows[i] for i in order], columns=["identifier", "label"])


@settings(max_examples=80, deadline=None)
@given(table=recording_tables(), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_location_split_properties(table, fraction, seed):
    locations = table.groupby("label")["identifier"].nunique()
    if (locations < 2).all():
        with pytest.raises(ValueError, match="two recording locations"):
            location_split(table, fraction, seed)
        return
    train_index, val_index = location_split(table, fraction, seed)
    assert train_index.dtype == val_index.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([train_index, val_index])), np.arange(len(table)))
    train, val = table.iloc[train_index], table.iloc[val_index]
    assert not set(train["identifier"]) & set(val["identifier"])
    val_locations = (val.groupby("label")["identifier"].nunique()
                     .reindex(locations.index, fill_value=0))
    splittable = locations >= 2
    assert (val_locations[~splittable] == 0).all()  # a class's only location stays in training
    assert (val_locations[splittable] >= 1).all() and (val_locations < locations).all()
    assert (abs(val_locations[splittable] - fraction * locations[splittable]) < 1).all()
    again = location_split(table, fraction, seed)
    assert np.array_equal(again[0], train_index) and np.array_equal(again[1], val_index)


@settings(max_examples=100, deadline=None)
@given(y=st.lists(st.integers(0, 5), max_size=200), fraction=st.floats(0, 1),
       seed=st.integers(0, 2**32 - 1))
def test_stratified_subset_properties(y, fraction, seed):
    y = np.array(y, dtype=np.int64)
    subset = stratified_subset(y, fraction, seed)
    assert subset.dtype == np.int64 and len(subset) == round(fraction * len(y))
    assert np.all(np.diff(subset) > 0)  # sorted, no index twice
    assert len(subset) == 0 or (subset[0] >= 0 and subset[-1] < len(y))
    share = fraction * np.bincount(y, minlength=6)
    kept = np.bincount(y[subset], minlength=6)
    assert np.all(abs(kept - share) < 1)  # every class within one example of its share
    # what rounding down loses goes to the largest remainders
    remainder = share - np.floor(share)
    rounded_up, rounded_down = remainder[kept > share], remainder[kept < share]
    if len(rounded_up) and len(rounded_down):
        assert rounded_up.min() >= rounded_down.max() - 1e-9
    assert np.array_equal(stratified_subset(y, fraction, seed), subset)


def test_a_class_whose_share_is_under_one_example_can_be_left_out():
    y = np.repeat([0, 1], [18, 2])  # at 10 %: shares of 1.8 and 0.2 examples, 2 in all
    subset = stratified_subset(y, 0.1, seed=0)
    assert y[subset].tolist() == [0, 0]


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

