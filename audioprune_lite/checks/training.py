"""Checks of the coding exercises of Chapters 2 and 5: training the network, and training it
on fewer examples.

- :func:`device_accuracy` -- Chapter 2's ``accuracy_by_device(y_true, y_pred, devices)``,
  against :func:`audioprune_lite.train.evaluate`;
- :func:`training_epoch` -- Chapter 2's ``train_one_epoch(model, loader, optimiser)``,
  against the epoch of :func:`audioprune_lite.train.fit`;
- :func:`stratified_sample` -- Chapter 5's ``stratified_subset_of(y, fraction, seed)``,
  against :func:`audioprune_lite.train.stratified_subset`;
- :func:`paired_difference` -- Chapter 5's ``paired_difference_of(first, second)``,
  against :func:`audioprune_lite.fewer_examples.paired_differences`.

Two of the steps are random, so their answers cannot be compared with the reference's
value for value. :func:`training_epoch` runs the student's epoch and the reference's on
copies of the same network, batches and optimiser, with the same seed for dropout, and
compares the loss and the weights they leave. :func:`stratified_sample` compares what every
correct subset shares with the reference's: how many examples of each class it keeps,
that its indices are valid, sorted and unique, and that the same seed gives it again.
"""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..train import _run_epoch, evaluate, stratified_subset
from .runner import Case, CheckResult, close, run_cases

__all__ = ["device_accuracy", "paired_difference", "stratified_sample", "training_epoch"]

DROPOUT_SEED = 0
"""Seed of PyTorch's global generator when an epoch runs (dropout draws from it), the
same for the student's epoch and the reference's."""


# Chapter 2: accuracy by recording device ------------------------------------------------------

def _evaluated(y_true, y_pred, devices) -> dict:
    """``accuracy`` and ``per_device_accuracy`` as :func:`~audioprune_lite.train.evaluate`
    reports them for a network that predicts ``y_pred``.

    The network is a linear layer with identity weights fed one-hot codes of ``y_pred``, so
    that its most probable class is ``y_pred`` for every clip.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n_classes = int(max(y_true.max(), y_pred.max())) + 1
    network = nn.Linear(n_classes, n_classes, bias=False)
    with torch.no_grad():
        network.weight.copy_(torch.eye(n_classes))
    one_hot = np.eye(n_classes, dtype=np.float32)[y_pred]
    result = evaluate(network, one_hot, y_true, devices=devices)
    return {"accuracy": result["accuracy"], "per_device_accuracy": result["per_device_accuracy"]}


def _same_accuracies(got, expected: dict) -> str | None:
    """:func:`close`, and the devices listed in the reference's order."""
    difference = close(got, expected)
    if difference is not None:
        return difference
    if list(got["per_device_accuracy"]) != list(expected["per_device_accuracy"]):
        return (f"the devices are listed in the order {list(got['per_device_accuracy'])}, not "
                f"{list(expected['per_device_accuracy'])}")
    return None


def device_accuracy(function) -> CheckResult:
    """Check Chapter 2's ``accuracy_by_device`` against :func:`~audioprune_lite.train.evaluate`.

    The reference is ``evaluate`` itself, run on a network whose predictions are the case's
    ``y_pred``. Cases: three devices with different numbers of clips and accuracies (each
    device's accuracy counts its own clips; the overall accuracy counts clips, not
    devices); a device with a single clip; a device with no correct clip (it is still
    listed, at 0); devices arriving out of alphabetical order (``evaluate`` lists them
    sorted, the order its bar chart draws them in); devices numbered 10, 2 and 9 (named as
    strings, listed in numerical order); and devices as a pandas column whose row labels
    are shuffled, as a sorted or split table leaves them (read by position).

    Used by: Chapter 2.

    Parameters
    ----------
    function : callable
        The student's ``accuracy_by_device(y_true, y_pred, devices)``: ``y_true`` and
        ``y_pred`` int arrays of shape ``(clips,)`` (true and predicted classes),
        ``devices`` the recording device of each clip, array-like of shape ``(clips,)``;
        returns a dict with ``"accuracy"`` (fraction correct over all clips) and
        ``"per_device_accuracy"`` (dict from ``str(device)`` to its fraction correct, in
        the sorted order of the devices).

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(2)

    def clips(devices, wrong):
        """``(y_true, y_pred, devices)``: random classes, ``wrong`` clips mispredicted."""
        y_true = rng.integers(0, 10, len(devices))
        y_pred = y_true.copy()
        y_pred[wrong] = (y_true[wrong] + rng.integers(1, 10, len(wrong))) % 10
        return y_true, y_pred, devices

    cases = [
        ("three devices", clips(np.array(list("aaaaaabbbbccc")), [0, 2, 6, 7, 8, 10]),
         "What does each device's accuracy divide by, and does the overall accuracy count "
         "clips or devices?"),
        ("a device with a single clip", clips(np.array(list("aaaabbbc")), [1, 5]),
         "A device with one clip has an accuracy of 0 or 1: which clips count for it?"),
        ("a device where every clip is wrong", clips(np.array(["a"] * 4 + ["s5"] * 3), [0, 4, 5, 6]),
         "Is every device listed, even one without a single correct clip?"),
        ("devices not in alphabetical order",
         clips(np.array(["s6", "b", "a", "s6", "b", "a", "a"]), [0, 1]),
         "In which order does `evaluate` list the devices?"),
        ("devices numbered 10, 2 and 9",
         clips(np.array([10, 2, 9, 10, 2, 9, 10, 10]), [0, 2, 3]),
         "How does `evaluate` name the devices, and in which order does it list them?"),
        ("devices as a pandas column with shuffled row labels",
         clips(pd.Series(list("bacab"), index=[3, 0, 4, 1, 2], name="source_label"), [0]),
         "Is `devices` read by position, whatever its pandas index?"),
    ]
    return run_cases("accuracy by device", function, [
        Case(name, args, _evaluated(*args), hint=hint, compare=_same_accuracies)
        for name, args, hint in cases])


# Chapter 2: one training epoch --------------------------------------------------------------

@dataclass(frozen=True)
class _Epoch:
    """What one training epoch gave: the loss it returned and the weights it left.

    Attributes
    ----------
    loss : object
        What the epoch function returned (a float when it is right).
    weights : dict of str to numpy.ndarray
        The network's ``state_dict`` after the epoch (parameters and batch-norm statistics).
    """

    loss: object
    weights: dict

    def __repr__(self) -> str:
        norm = np.sqrt(sum(float(np.sum(np.asarray(value, float) ** 2))
                           for value in self.weights.values()))
        try:
            loss = f"{float(self.loss):.6g}"
        except (TypeError, ValueError):
            loss = repr(self.loss)[:60]
        return f"mean loss {loss}, weights after the epoch of norm {norm:.8g}"


def _epoch(function):
    """``function(model, loader, optimiser)`` as a check runs it: dropout seeded with
    :data:`DROPOUT_SEED` (PyTorch's global generator restored afterwards), returning an
    :class:`_Epoch`, or None when ``function`` returned None.

    The wrapper carries ``function``'s name and source (``functools.wraps``), so that an
    unfinished starter is still recognised as one.
    """
    @functools.wraps(function)
    def run(model, loader, optimiser):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(DROPOUT_SEED)
            loss = function(model, loader, optimiser)
        if loss is None:
            return None
        return _Epoch(loss, {name: value.detach().cpu().numpy().copy()
                             for name, value in model.state_dict().items()})
    return run


def _reference_epoch(model, loader, optimiser) -> float:
    """The mean training loss of one epoch of :func:`~audioprune_lite.train.fit`."""
    return _run_epoch(model, loader, "cpu", optimiser)[0]


def _same_epoch(got, expected: _Epoch) -> str | None:
    """None if ``got`` returned the reference's loss and left the reference's weights."""
    if got is None:
        return close(None, expected)
    difference = close(got.loss, expected.loss)
    if difference is not None:
        return f"the mean training loss returned: {difference}"
    difference = close(got.weights, expected.weights)
    if difference is not None:
        return f"the loss agrees, but the weights after the epoch do not: {difference}"
    return None


def _training_setup(n_examples: int, batch_size: int, *, seed: int, sgd: bool = False,
                    training_mode: bool = True) -> tuple:
    """``(model, loader, optimiser)``: a small CNN, random batches, an optimiser.

    The network has the baseline's kinds of layers on inputs of 10 mel bands x 12 frames:
    a 3 x 3 convolution with 3 filters, batch normalisation, ReLU, max pooling to 2 x 2,
    dropout and a dense output layer for 3 classes. Its convolution has no bias: followed
    by batch normalisation, a bias gets a gradient of zero up to rounding, which Adam would
    blow up into steps that differ between correct ways of computing the same loss. The
    loader shuffles with its own seeded generator; PyTorch's global generator is left as it
    was.

    Parameters
    ----------
    n_examples, batch_size : int
    seed : int
        Seeds the weights, the inputs, the labels and the shuffling.
    sgd : bool
        Plain SGD (learning rate 0.05) instead of Adam (0.001, the baseline's).
    training_mode : bool
        False leaves the network in evaluation mode, as ``fit`` and ``evaluate`` leave it.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(1, 3, 3, padding=1, bias=False)), ("bn", nn.BatchNorm2d(3)),
            ("relu", nn.ReLU()), ("pool", nn.AdaptiveMaxPool2d((2, 2))),
            ("dropout", nn.Dropout(0.3)), ("flatten", nn.Flatten()),
            ("output", nn.Linear(12, 3))]))
        inputs = torch.randn(n_examples, 1, 10, 12)
        labels = torch.randint(0, 3, (n_examples,))
    model.train(training_mode)
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimiser = (torch.optim.SGD(model.parameters(), lr=0.05) if sgd
                 else torch.optim.Adam(model.parameters(), lr=1e-3))
    return model, loader, optimiser


def training_epoch(function) -> CheckResult:
    """Check Chapter 2's ``train_one_epoch`` against the epoch of :func:`~audioprune_lite.train.fit`.

    Each case is a small CNN with the baseline's kinds of layers (convolution, batch
    normalisation, dropout; see :func:`_training_setup`), a shuffling loader of random
    inputs and an optimiser; the
    student's epoch and the package's run on copies of the three, with the same seed for
    dropout, and both the returned loss and the weights left after the epoch must agree.
    Cases: one batch (the loss returned is a mean over the examples); three full batches
    (each batch's gradients are cleared before the next); a last batch smaller than the
    others (the mean returned weighs examples, not batches, and the loss backpropagated is
    each batch's mean, not its sum); a network left in evaluation mode, as ``fit`` and
    ``evaluate`` leave it (the epoch must switch dropout and batch normalisation to
    training); and plain SGD, whose steps, unlike Adam's, grow with the gradient (the steps
    are the given optimiser's, on each batch's mean loss).

    Used by: Chapter 2.

    Parameters
    ----------
    function : callable
        The student's ``train_one_epoch(model, loader, optimiser)``: ``model`` a
        ``torch.nn.Module`` on the CPU, ``loader`` a DataLoader of ``(inputs, labels)``
        batches (float32 of shape ``(batch, 1, n_mels, frames)``, int64 of shape
        ``(batch,)``), ``optimiser`` a ``torch.optim`` optimiser of ``model``'s
        parameters; trains ``model`` in place for one pass over ``loader`` and returns the
        mean cross-entropy (nats) over the examples, as a float.

    Returns
    -------
    CheckResult
    """
    cases = [
        ("one batch", _training_setup(4, 4, seed=1),
         "Which loss does the epoch report: summed or averaged, and over what?"),
        ("three full batches", _training_setup(12, 4, seed=2),
         "What happens to the gradients of one batch when `backward` runs for the next?"),
        ("a last batch smaller than the others", _training_setup(10, 4, seed=3),
         "The last batch holds fewer examples: how much does each of its examples weigh, in "
         "the loss you return and in the loss you backpropagate?"),
        ("a network left in evaluation mode", _training_setup(8, 4, seed=4, training_mode=False),
         "In which mode does the network arrive, and in which mode do dropout and batch "
         "normalisation behave as in training?"),
        ("plain SGD, where the size of the gradient counts", _training_setup(8, 4, seed=5, sgd=True),
         "Which optimiser takes the steps, and is the loss it steps on the batch's mean or its "
         "sum?"),
    ]
    return run_cases("one training epoch", _epoch(function), [
        Case(name, args, _epoch(_reference_epoch)(*copy.deepcopy(args)), hint=hint,
             compare=_same_epoch)
        for name, args, hint in cases])


# Chapter 5: a stratified subset -------------------------------------------------------------

@dataclass(frozen=True)
class _Subset:
    """The reference's subset of the labels ``y``, shown by its counts per class."""

    indices: np.ndarray
    y: np.ndarray

    def per_class(self, indices) -> dict:
        """How many of ``indices`` each class of ``y`` holds (every class, 0 included)."""
        return {int(label): int(np.sum(self.y[indices] == label)) for label in np.unique(self.y)}

    def __repr__(self) -> str:
        return f"{len(self.indices)} indices, per class {self.per_class(self.indices)}"


@dataclass(frozen=True)
class _TwoDraws:
    """Two different answers of the student's function to the same arguments."""

    first: object
    second: object

    def __repr__(self) -> str:
        return f"two different subsets: {self.first!r} and then {self.second!r}"


def _twice(function):
    """``function`` called twice on the same arguments: its answer, or a :class:`_TwoDraws`
    when the two calls disagree (``functools.wraps`` keeps a starter recognisable)."""
    @functools.wraps(function)
    def run(*args):
        first = function(*copy.deepcopy(args))
        second = function(*args)
        try:
            same = np.array_equal(np.asarray(first), np.asarray(second))
        except (TypeError, ValueError):
            same = False
        return first if same or first is None else _TwoDraws(first, second)
    return run


def _same_subset(got, expected: _Subset) -> str | None:
    """None if ``got`` is a valid subset with the reference's number of examples per class."""
    if got is None:
        return close(None, expected)
    if isinstance(got, _TwoDraws):
        return "two calls with the same seed returned different subsets"
    indices = np.asarray(got)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        return (f"expected a 1-D array of integer indices, got shape {indices.shape} of "
                f"{indices.dtype}")
    if len(indices) and (indices.min() < 0 or indices.max() >= len(expected.y)):
        return f"some indices lie outside 0 to {len(expected.y) - 1}"
    if len(np.unique(indices)) < len(indices):
        return "some indices appear more than once"
    if np.any(np.diff(indices) < 0):
        return "the indices are not sorted"
    got_counts, expected_counts = expected.per_class(indices), expected.per_class(expected.indices)
    for label, count in expected_counts.items():
        if got_counts[label] != count:
            kept = got_counts[label]
            return f"class {label} keeps {kept} example{'' if kept == 1 else 's'}, not {count}"
    return None


def stratified_sample(function) -> CheckResult:
    """Check Chapter 5's ``stratified_subset_of`` against :func:`~audioprune_lite.train.stratified_subset`.

    The examples drawn are random, so a subset is compared with the reference's by what
    must agree: the number of examples of every class, indices that are integers, valid,
    unique and sorted, and the same subset from the same seed (the function is called
    twice). Cases: all the examples (fraction 1); half of four balanced classes; a quarter
    of unbalanced classes (20, 7 and 3 examples: the examples lost by rounding down go to
    the largest remainders, 5, 2 and 1 are kept); 10 % of classes of 12, 12 and 2 examples
    (a share under one example: the small class is left out, and the remainders tie); labels
    3, 7 and 9 with equal remainders (ties go to the smaller label); and a fraction of 0
    (no example, still an integer array).

    Used by: Chapter 5.

    Parameters
    ----------
    function : callable
        The student's ``stratified_subset_of(y, fraction, seed)``: ``y`` int labels of
        shape ``(examples,)``, ``fraction`` in [0, 1], ``seed`` an int; returns sorted,
        unique int indices into ``y``, shape ``(round(fraction * examples),)``.

    Returns
    -------
    CheckResult
    """
    def labels(counts, seed, names=None):
        """Labels with ``counts`` examples per class, shuffled with ``seed``."""
        names = range(len(counts)) if names is None else names
        y = np.repeat(np.asarray(names), counts)
        return np.random.default_rng(seed).permutation(y)

    cases = [
        ("all the examples (fraction 1)", labels([5, 5, 5, 5], 0), 1.0, 0,
         "With a fraction of 1, which examples are kept?"),
        ("half of balanced classes", labels([6, 6, 6, 6], 1), 0.5, 1,
         "Is the same share taken from every class, or from the whole set at once?"),
        ("a quarter of unbalanced classes", labels([20, 7, 3], 2), 0.25, 2,
         "How many examples does the subset hold in all, and which classes receive those "
         "lost by rounding each class down?"),
        ("a share under one example for a class", labels([12, 12, 2], 3), 0.1, 3,
         "A class whose share is under one example: does it still get one? And when "
         "remainders tie, which class gets the example?"),
        ("labels 3, 7 and 9 with equal remainders", labels([5, 5, 5], 4, names=[3, 7, 9]), 0.5, 4,
         "When the remainders of several classes tie, which class gets the extra example?"),
        ("a fraction of 0", labels([4, 4], 5), 0.0, 5,
         "A fraction of 0 keeps no example: what does your function return then, and of "
         "which type?"),
    ]
    return run_cases("a stratified subset", _twice(function), [
        Case(name, (y, fraction, seed), _Subset(stratified_subset(y, fraction, seed), y), hint=hint,
             compare=_same_subset)
        for name, y, fraction, seed, hint in cases])


# Chapter 5: the paired difference of two starting points -------------------------------------

def _paired_reference(first: pd.Series, second: pd.Series) -> dict:
    """:func:`~audioprune_lite.fewer_examples.paired_differences` of two runs' accuracies
    by seed, at one share of the data, as a dict."""
    # imported here: the study's module brings the pruning, carbon and experiment modules
    from ..fewer_examples import paired_differences

    table = pd.concat([pd.DataFrame({"start": start, "fraction": 1.0, "seed": runs.index,
                                     "accuracy": runs.to_numpy()})
                       for start, runs in (("first", first), ("second", second))])
    row = paired_differences(table, "first", "second").iloc[0]
    return {"seeds": int(row["seeds"]), "difference": float(row["difference"]),
            "half_width": float(row["half_width"]), "beyond_noise": bool(row["beyond_noise"])}


def _same_summary(got, expected: dict) -> str | None:
    """None if ``got`` has the reference's keys and values (NaN where it has NaN)."""
    if got is None:
        return close(None, expected)
    if not isinstance(got, dict) or set(got) != set(expected):
        return f"expected a dict with the keys {sorted(expected)}"
    if got["seeds"] != expected["seeds"]:
        return f"{got['seeds']!r} pairs of runs, not {expected['seeds']}"
    for key in ("difference", "half_width"):
        try:
            value = float(got[key])
        except (TypeError, ValueError):
            return f"{key} is not a number"
        if not np.isclose(value, expected[key], rtol=1e-4, atol=1e-6, equal_nan=True):
            return f"{key} is {value:.6g}, not {expected[key]:.6g}"
    beyond = got["beyond_noise"]
    if not isinstance(beyond, (bool, np.bool_)) or bool(beyond) != expected["beyond_noise"]:
        return f"beyond_noise is {beyond!r}, not {expected['beyond_noise']}"
    return None


def paired_difference(function) -> CheckResult:
    """Check Chapter 5's ``paired_difference_of`` against :func:`~audioprune_lite.fewer_examples.paired_differences`.

    Each case is the accuracy of two starting points' runs at one share of the data, by
    seed; the reference is ``paired_differences`` on a study table holding those runs.
    Cases: three seeds (the interval is that of the per-seed differences, in points); the
    second arm's seeds listed in another order (runs are paired by seed, not by position);
    a seed that only the first arm ran (left out); two seeds (the t quantile has one
    degree of freedom); a single shared seed (no interval, so nothing is beyond the
    noise); and two arms that tie in every seed (a zero difference with a zero-width
    interval is not beyond the noise).

    Used by: Chapter 5.

    Parameters
    ----------
    function : callable
        The student's ``paired_difference_of(first, second)``: ``first`` and ``second``
        pandas Series of accuracies (fractions correct) indexed by seed; returns a dict with
        ``"seeds"`` (int, seeds both ran), ``"difference"`` (mean of the per-seed ``first -
        second``, in points), ``"half_width"`` (of its 95 % t-interval, in points; NaN for
        one seed) and ``"beyond_noise"`` (bool, ``|difference| > half_width``).

    Returns
    -------
    CheckResult
    """
    def runs(accuracies, seeds=None):
        """Accuracies indexed by seed (0, 1, ... unless ``seeds`` are given)."""
        seeds = range(len(accuracies)) if seeds is None else seeds
        return pd.Series(accuracies, index=pd.Index(seeds, name="seed"), name="accuracy")

    cases = [
        ("three seeds", runs([0.812, 0.797, 0.826]), runs([0.781, 0.790, 0.779]),
         "Which values does the interval describe: each arm's accuracies, or the per-seed "
         "differences? In which unit is the difference?"),
        ("seeds listed in another order", runs([0.70, 0.74, 0.79]),
         runs([0.77, 0.69, 0.72], seeds=[2, 0, 1]),
         "Which run of the second arm goes with each run of the first?"),
        ("a seed only one starting point ran", runs([0.80, 0.83, 0.78, 0.60]), runs([0.79, 0.80, 0.76]),
         "Which seeds can be paired, and how many pairs are there?"),
        ("two seeds", runs([0.75, 0.78]), runs([0.71, 0.77]),
         "How many degrees of freedom does the t quantile have with two pairs?"),
        ("a single shared seed", runs([0.80, 0.77], seeds=[0, 1]), runs([0.74, 0.79], seeds=[1, 2]),
         "With a single pair, what interval can the seeds give, and can a difference then "
         "be beyond the noise?"),
        ("two starting points that tie in every seed", runs([0.80, 0.77, 0.81]), runs([0.80, 0.77, 0.81]),
         "When every difference is zero and so is the interval's width, does the interval "
         "exclude zero?"),
    ]
    return run_cases("the paired difference", function, [
        Case(name, (first, second), _paired_reference(first, second), hint=hint,
             compare=_same_summary)
        for name, first, second, hint in cases])
