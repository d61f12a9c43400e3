"""The checks of Chapters 2 and 5 on plausible wrong answers: each names the case that
failed, what was expected, what came back and the hint (what every check promises for
every exercise is tested in ``test_checks.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import answer_from_notebook, assert_explains_the_failure
from torch import nn

from audioprune_lite import checks
from audioprune_lite.metrics import seed_interval

ROOT = Path(__file__).resolve().parents[1]

CHAPTER_2 = ROOT / "book" / "02_train_cnn.ipynb"
CHAPTER_5 = ROOT / "book" / "05_finetune_fewer_examples.ipynb"

EXERCISES = {  # check: (chapter, exercise label)
    "device_accuracy": (CHAPTER_2, "ch2-device-accuracy"),
    "training_epoch": (CHAPTER_2, "ch2-epoch"),
    "stratified_sample": (CHAPTER_5, "ch5-subset"),
    "paired_difference": (CHAPTER_5, "ch5-paired"),
}


# Plausible wrong answers: accuracy by device ---------------------------------------------------

def _by_device(y_true, y_pred, devices, per_device, order=sorted, name=str):
    """``accuracy_by_device`` with the device accuracy ``per_device(correct, mask)``."""
    correct = np.asarray(y_pred) == np.asarray(y_true)
    devices = np.asarray(devices)
    return {"accuracy": float(correct.mean()),
            "per_device_accuracy": {name(d): float(per_device(correct, devices == d))
                                    for d in order(set(devices.tolist()))}}


def device_share_instead_of_accuracy(y_true, y_pred, devices):
    return _by_device(y_true, y_pred, devices, lambda correct, mask: mask.mean())


def device_hits_over_all_clips(y_true, y_pred, devices):
    return _by_device(y_true, y_pred, devices, lambda correct, mask: correct[mask].sum() / len(correct))


def overall_as_mean_of_devices(y_true, y_pred, devices):
    result = _by_device(y_true, y_pred, devices, lambda correct, mask: correct[mask].mean())
    result["accuracy"] = float(np.mean(list(result["per_device_accuracy"].values())))
    return result


def devices_with_a_correct_clip_only(y_true, y_pred, devices):
    correct = np.asarray(y_pred) == np.asarray(y_true)
    devices = np.asarray(devices)
    return {"accuracy": float(correct.mean()),
            "per_device_accuracy": {str(d): float(correct[devices == d].mean())
                                    for d in sorted(set(devices[correct].tolist()))}}


def devices_in_order_of_appearance(y_true, y_pred, devices):
    return _by_device(y_true, y_pred, devices, lambda correct, mask: correct[mask].mean(),
                      order=lambda found: list(dict.fromkeys(np.asarray(devices).tolist())))


def devices_not_named_as_strings(y_true, y_pred, devices):
    return _by_device(y_true, y_pred, devices, lambda correct, mask: correct[mask].mean(),
                      name=lambda device: device)


def devices_sorted_by_name(y_true, y_pred, devices):
    return _by_device(y_true, y_pred, devices, lambda correct, mask: correct[mask].mean(),
                      order=lambda found: sorted(found, key=str))


def devices_read_by_pandas_label(y_true, y_pred, devices):
    correct = np.asarray(y_pred) == np.asarray(y_true)
    names = sorted(set(list(devices)))
    return {"accuracy": float(correct.mean()),
            "per_device_accuracy": {str(d): float(np.mean([correct[i] for i in range(len(correct))
                                                           if devices[i] == d])) for d in names}}


# Plausible wrong answers: one training epoch ----------------------------------------------------

def _epoch(model, loader, optimiser, *, train_mode=True, zero_grad=True, backward_sum=False,
           report="examples"):
    """An epoch with one mistake switched on."""
    if train_mode:
        model.train()
    loss_function = nn.CrossEntropyLoss(reduction="sum")
    total, batches, count = 0.0, [], 0
    for inputs, labels in loader:
        if zero_grad:
            optimiser.zero_grad()
        summed = loss_function(model(inputs), labels)
        (summed if backward_sum else summed / len(labels)).backward()
        optimiser.step()
        total += summed.item()
        batches.append(summed.item() / len(labels))
        count += len(labels)
    return {"examples": total / count, "sum": total, "batches": float(np.mean(batches))}[report]


def epoch_without_zero_grad(model, loader, optimiser):
    return _epoch(model, loader, optimiser, zero_grad=False)


def epoch_without_train_mode(model, loader, optimiser):
    return _epoch(model, loader, optimiser, train_mode=False)


def epoch_returning_the_sum(model, loader, optimiser):
    return _epoch(model, loader, optimiser, report="sum")


def epoch_mean_over_batches(model, loader, optimiser):
    return _epoch(model, loader, optimiser, report="batches")


def epoch_backpropagating_the_sum(model, loader, optimiser):
    return _epoch(model, loader, optimiser, backward_sum=True)


def epoch_with_its_own_adam(model, loader, optimiser):
    return _epoch(model, loader, torch.optim.Adam(model.parameters(), lr=1e-3))


def epoch_loss_after_training(model, loader, optimiser):
    _epoch(model, loader, optimiser)
    with torch.no_grad():
        losses = [nn.functional.cross_entropy(model(x), y, reduction="sum").item() for x, y in loader]
    return sum(losses) / len(loader.dataset)


# Plausible wrong answers: a stratified subset ------------------------------------------------------

def _stratified(y, fraction, seed, counts_kept):
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(y, return_counts=True)
    drawn = [rng.choice(np.flatnonzero(y == label), size=int(k), replace=False)
             for label, k in zip(labels, counts_kept(fraction, counts, len(y)))]
    return np.sort(np.concatenate(drawn)).astype(np.int64)


def subset_without_stratification(y, fraction, seed):
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(y), size=round(fraction * len(y)), replace=False))


def subset_rounding_down(y, fraction, seed):
    return _stratified(y, fraction, seed, lambda f, counts, n: np.floor(f * counts))


def subset_rounding_each_class(y, fraction, seed):
    return _stratified(y, fraction, seed, lambda f, counts, n: np.round(f * counts))


def subset_at_least_one_per_class(y, fraction, seed):
    return _stratified(y, fraction, seed,
                       lambda f, counts, n: np.minimum(counts, np.maximum(1, np.floor(f * counts))))


def _largest_remainders(fraction, counts, n, *, ties_to_the_larger_label=False):
    """The reference's rule: shares rounded down, the examples lost to the largest remainders."""
    keep = np.floor(fraction * counts).astype(int)
    remainders = fraction * counts - keep
    tie_order = np.arange(len(counts)) * (-1 if ties_to_the_larger_label else 1)
    keep[np.lexsort((tie_order, -remainders))[:round(fraction * n) - keep.sum()]] += 1
    return keep


def subset_ties_to_the_larger_label(y, fraction, seed):
    return _stratified(y, fraction, seed, lambda f, counts, n: _largest_remainders(
        f, counts, n, ties_to_the_larger_label=True))


def subset_unseeded(y, fraction, seed):
    return _stratified(y, fraction, None, _largest_remainders)


def subset_unsorted(y, fraction, seed):
    return np.random.default_rng(seed).permutation(_stratified(y, fraction, seed, _largest_remainders))


def subset_of_floats_when_empty(y, fraction, seed):
    subset = _stratified(y, fraction, seed, _largest_remainders)
    return subset if len(subset) else np.array([])


def test_the_rule_of_the_wrong_answers_is_the_reference_s():
    """The subsets' wrong answers differ from the reference in their one mistake only."""
    from audioprune_lite.train import stratified_subset

    y = np.repeat([3, 7, 9], [20, 7, 3])
    for fraction in (0.0, 0.1, 0.25, 0.5, 1.0):
        kept = _largest_remainders(fraction, np.bincount(y)[[3, 7, 9]], len(y))
        assert list(kept) == [np.sum(y[stratified_subset(y, fraction, 0)] == c) for c in (3, 7, 9)]


# Plausible wrong answers: the paired difference ------------------------------------------------------

def _summary(per_seed, half_width=None, strict=True):
    per_seed = np.asarray(per_seed, dtype=float)
    difference = float(np.mean(per_seed))
    half_width = seed_interval(per_seed) if half_width is None else half_width
    beyond = abs(difference) > half_width if strict else abs(difference) >= half_width
    return {"seeds": len(per_seed), "difference": difference, "half_width": half_width,
            "beyond_noise": bool(beyond)}


def paired_by_position(first, second):
    return _summary(100 * (first.to_numpy() - second.to_numpy()))


def unpaired_interval(first, second):
    shared = first.index.intersection(second.index)
    half_width = float(np.hypot(seed_interval(100 * first[shared]), seed_interval(100 * second[shared])))
    return _summary(100 * (first[shared] - second[shared]), half_width=half_width)


def difference_in_fractions(first, second):
    return _summary((first - second).dropna())


def counting_unpaired_seeds(first, second):
    per_seed = 100 * (first - second)
    difference = float(per_seed.mean())
    half_width = seed_interval(per_seed)
    return {"seeds": len(per_seed), "difference": difference, "half_width": half_width,
            "beyond_noise": bool(abs(difference) > half_width)}


def normal_quantile(first, second):
    per_seed = 100 * (first - second).dropna()
    return _summary(per_seed, half_width=float(1.96 * per_seed.std(ddof=1) / np.sqrt(len(per_seed))))


def t_quantile_of_three_seeds_typed_in(first, second):
    per_seed = 100 * (first - second).dropna()
    return _summary(per_seed, half_width=float(4.303 * per_seed.std(ddof=1) / np.sqrt(len(per_seed))))


def spread_without_ddof(first, second):
    per_seed = 100 * (first - second).dropna()
    from scipy import stats
    quantile = stats.t.ppf(0.975, max(len(per_seed) - 1, 1))
    return _summary(per_seed, half_width=float(quantile * per_seed.std(ddof=0) / np.sqrt(len(per_seed))))


def beyond_noise_when_touching(first, second):
    return _summary(100 * (first - second).dropna(), strict=False)


WRONG = [  # check, wrong answer, the case it fails, words of that case's hint, of the difference
    ("device_accuracy", device_share_instead_of_accuracy, "three devices",
     "each device's accuracy divide by", "at key 'per_device_accuracy'"),
    ("device_accuracy", device_hits_over_all_clips, "three devices",
     "each device's accuracy divide by", "at key 'per_device_accuracy'"),
    ("device_accuracy", overall_as_mean_of_devices, "three devices", "count clips or devices",
     "at key 'accuracy'"),
    ("device_accuracy", devices_with_a_correct_clip_only, "a device where every clip is wrong",
     "even one without a single correct clip", "the keys differ (missing ['s5']"),
    ("device_accuracy", devices_in_order_of_appearance, "devices not in alphabetical order",
     "In which order", "listed in the order ['s6', 'b', 'a'], not ['a', 'b', 's6']"),
    ("device_accuracy", devices_not_named_as_strings, "devices numbered 10, 2 and 9",
     "How does `evaluate` name the devices", "the keys differ"),
    ("device_accuracy", devices_sorted_by_name, "devices numbered 10, 2 and 9",
     "in which order does it list them", "not ['2', '9', '10']"),
    ("device_accuracy", devices_read_by_pandas_label, "devices as a pandas column with shuffled row labels",
     "read by position", "at key 'per_device_accuracy'"),
    ("training_epoch", epoch_returning_the_sum, "one batch", "summed or averaged",
     "the mean training loss returned: the values differ"),
    ("training_epoch", epoch_loss_after_training, "one batch", "summed or averaged",
     "the mean training loss returned: the values differ"),
    ("training_epoch", epoch_without_zero_grad, "three full batches",
     "What happens to the gradients", "the weights after the epoch do not"),
    ("training_epoch", epoch_mean_over_batches, "a last batch smaller than the others",
     "in the loss you return", "the mean training loss returned"),
    ("training_epoch", epoch_without_train_mode, "a network left in evaluation mode",
     "in which mode do dropout and batch normalisation", "the mean training loss returned"),
    ("training_epoch", epoch_backpropagating_the_sum, "a last batch smaller than the others",
     "in the loss you backpropagate", "the weights after the epoch do not"),
    ("training_epoch", epoch_with_its_own_adam, "plain SGD, where the size of the gradient counts",
     "Which optimiser takes the steps", "the mean training loss returned"),
    ("stratified_sample", subset_without_stratification, "half of balanced classes",
     "same share taken from every class", "keeps"),
    ("stratified_sample", subset_rounding_down, "a quarter of unbalanced classes",
     "lost by rounding each class down", "class 1 keeps 1 example, not 2"),
    ("stratified_sample", subset_rounding_each_class, "a share under one example for a class",
     "does it still get one", "class 0 keeps 1 example, not 2"),
    ("stratified_sample", subset_at_least_one_per_class, "a quarter of unbalanced classes",
     "lost by rounding each class down", "class 1 keeps 1 example, not 2"),
    ("stratified_sample", subset_ties_to_the_larger_label, "a share under one example for a class",
     "when remainders tie", "class 0 keeps 1 example, not 2"),
    ("stratified_sample", subset_unseeded, "half of balanced classes",
     "same share taken from every class", "two calls with the same seed returned different subsets"),
    ("stratified_sample", subset_unsorted, "all the examples (fraction 1)",
     "which examples are kept", "the indices are not sorted"),
    ("stratified_sample", subset_of_floats_when_empty, "a fraction of 0", "of which type",
     "expected a 1-D array of integer indices, got shape (0,) of float64"),
    ("paired_difference", unpaired_interval, "three seeds", "each arm's accuracies",
     "half_width is"),
    ("paired_difference", difference_in_fractions, "three seeds", "In which unit",
     "difference is 0.0283333, not 2.83333"),
    ("paired_difference", normal_quantile, "three seeds", "each arm's accuracies", "half_width is"),
    ("paired_difference", paired_by_position, "seeds listed in another order",
     "Which run of the second arm goes with each run of the first", "half_width is"),
    ("paired_difference", counting_unpaired_seeds, "a seed only one starting point ran",
     "how many pairs are there", "4 pairs of runs, not 3"),
    ("paired_difference", t_quantile_of_three_seeds_typed_in, "two seeds", "degrees of freedom",
     "half_width is"),
    ("paired_difference", spread_without_ddof, "three seeds", "each arm's accuracies", "half_width is"),
    ("paired_difference", beyond_noise_when_touching, "two starting points that tie in every seed",
     "does the interval exclude zero", "beyond_noise is True, not False"),
]


# Tests -------------------------------------------------------------------------------------

def test_every_check_is_exported_and_has_an_exercise():
    assert sorted(checks.training.__all__) == sorted(EXERCISES)
    assert {name for name, *_ in WRONG} == set(EXERCISES)


@pytest.mark.parametrize(("name", "answer", "case", "hint", "difference"), WRONG,
                         ids=[answer.__name__ for _, answer, *_ in WRONG])
def test_a_wrong_answer_names_the_case_the_difference_and_the_hint(name, answer, case, hint,
                                                                   difference):
    assert_explains_the_failure(getattr(checks, name)(answer), case, hint, difference)


def returns_nothing(*args):
    """An answer that computes but forgets its ``return``."""
    args  # noqa: B018


@pytest.mark.parametrize("name", EXERCISES)
def test_a_missing_return_is_said(name):
    result = getattr(checks, name)(returns_nothing)
    assert result.status == "failed" and "is a `return` missing?" in result.message


def _overwrite(value):
    """Overwrite an array, a Series or a network's weights in place."""
    if isinstance(value, nn.Module):
        with torch.no_grad():
            for parameter in value.parameters():
                parameter.zero_()
    elif isinstance(value, (np.ndarray, pd.Series)):
        value[:] = value[::-1].copy() if isinstance(value, np.ndarray) else value.to_numpy()[::-1]


def test_the_training_check_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    assert checks.training_epoch(answer_from_notebook(CHAPTER_2, "ch2-epoch")).passed
    assert torch.equal(torch.random.get_rng_state(), before)


def test_the_epoch_check_accepts_a_loss_summed_by_the_loss_function():
    """Another correct way to write the epoch (``fit``'s own) passes too."""
    assert checks.training_epoch(_epoch).passed


def test_each_check_runs_in_well_under_a_second():
    import time

    for name in EXERCISES:
        path, label = EXERCISES[name]
        answer = answer_from_notebook(path, label)
        getattr(checks, name)(answer)  # first call: PyTorch imports what its optimisers need
        start = time.perf_counter()
        getattr(checks, name)(answer)
        assert time.perf_counter() - start < 1.0, name
