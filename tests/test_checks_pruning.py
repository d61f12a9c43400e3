"""The checks of Chapters 3 and 4 on plausible wrong answers: each names the case that
failed, what was expected, what came back and the hint (what every check promises for
every exercise is tested in ``test_checks.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import answer_from_notebook, assert_explains_the_failure
from torch import nn

from audioprune_lite import checks

ROOT = Path(__file__).resolve().parents[1]

CHAPTER_3 = ROOT / "book" / "03_cosine_pruning.ipynb"
CHAPTER_4 = ROOT / "book" / "04_surgery_and_speed.ipynb"

EXERCISES = {  # check: (chapter, exercise label)
    "prototype": (CHAPTER_3, "ch3-prototype"),
    "greedy_pass": (CHAPTER_3, "ch3-greedy"),
    "surgery": (CHAPTER_4, "ch4-surgery"),
    "conv_macs": (CHAPTER_4, "ch4-conv-macs"),
}


# Plausible wrong answers -----------------------------------------------------------------

def _svd(weight):
    """``u, vt`` of the filter laid out as a (kh*kw, c_in) matrix."""
    u, _, vt = np.linalg.svd(weight.reshape(len(weight), -1).T.astype(np.float64),
                             full_matrices=False)
    return u, vt


def prototype_without_sign_fix(weight):
    return _svd(weight)[0][:, 0]


def prototype_mean_over_channels(weight):
    mean = weight.mean(axis=0).ravel().astype(np.float64)
    return mean / np.linalg.norm(mean)


def prototype_right_singular_vector(weight):
    u, vt = _svd(weight)
    return vt[0] * np.sign(vt[0, 0])


def _greedy(distances, *, ties_to_higher=False, skip_marked=True, unmarked=False,
            self_excluded_by_one=False, nearest_tie_to_higher=False):
    """A student's greedy pass, with one of the mistakes switched on."""
    distances = np.asarray(distances, dtype=float)
    if ties_to_higher:  # reverse the filter order, select, map back
        n_filters = len(distances)
        return np.sort(n_filters - 1 - _greedy(distances[::-1, ::-1]))
    n_filters = len(distances)
    # a distance of 1 on the diagonal excludes the filter itself only below 1
    others = distances + np.diag(np.full(n_filters, 1.0 if self_excluded_by_one else np.inf))
    if nearest_tie_to_higher:
        nearest = n_filters - 1 - np.argmin(others[:, ::-1], axis=1)
    else:
        nearest = np.argmin(others, axis=1)
    order = np.argsort(distances[np.arange(n_filters), nearest], kind="stable")
    marked = np.zeros(n_filters, dtype=bool)
    chosen = []
    for i in order:
        if not (skip_marked and marked[i]):
            chosen.append(i)
            marked[nearest[i]] = True
    if unmarked:
        chosen = [i for i in chosen if not marked[i]]
    return np.sort(chosen)


def greedy_ties_to_the_higher_index(distances):
    return _greedy(distances, ties_to_higher=True)


def greedy_not_skipping_marked_filters(distances):
    return _greedy(distances, skip_marked=False)


def greedy_only_the_never_marked(distances):
    return _greedy(distances, unmarked=True)


def greedy_excluding_itself_by_adding_one(distances):
    return _greedy(distances, self_excluded_by_one=True)


def greedy_nearest_tie_to_the_higher_index(distances):
    return _greedy(distances, nearest_tie_to_higher=True)


def _sliced(conv, bn, next_conv, keep, *, next_inputs=True, running_statistics=True,
            sort=True):
    """A student's surgery, with one of the mistakes switched on."""
    index = torch.as_tensor(sorted(keep) if sort else list(keep))
    with torch.no_grad():
        conv.weight = nn.Parameter(conv.weight[index].clone())
        if conv.bias is not None:
            conv.bias = nn.Parameter(conv.bias[index].clone())
        conv.out_channels = len(index)
        bn.weight = nn.Parameter(bn.weight[index].clone())
        bn.bias = nn.Parameter(bn.bias[index].clone())
        if running_statistics:
            bn.running_mean = bn.running_mean[index].clone()
            bn.running_var = bn.running_var[index].clone()
        bn.num_features = len(index)
        if next_inputs:
            next_conv.weight = nn.Parameter(next_conv.weight[:, index].clone())
            next_conv.in_channels = len(index)
    return conv, bn, next_conv


def surgery_forgetting_the_next_layer(conv, bn, next_conv, keep):
    return _sliced(conv, bn, next_conv, keep, next_inputs=False)


def surgery_forgetting_the_running_statistics(conv, bn, next_conv, keep):
    return _sliced(conv, bn, next_conv, keep, running_statistics=False)


def surgery_in_the_order_given(conv, bn, next_conv, keep):
    return _sliced(conv, bn, next_conv, keep, sort=False)


def surgery_rebuilding_the_next_layer_without_its_stride(conv, bn, next_conv, keep):
    conv, bn, sliced = _sliced(conv, bn, next_conv, keep)
    rebuilt = nn.Conv2d(sliced.in_channels, sliced.out_channels, sliced.kernel_size,
                        padding=sliced.padding)
    rebuilt.load_state_dict(sliced.state_dict())
    return conv, bn, rebuilt


def _output_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _macs(conv, height, width, *, output_size=True, input_channels=True, stride=True,
          dilation=True, bias=False):
    """A student's count, with one of the mistakes switched on."""
    sizes = [_output_size(size, kernel, step if stride else 1, padding, spread if dilation else 1)
             if output_size else size
             for size, kernel, step, padding, spread in zip(
                 (height, width), conv.kernel_size, conv.stride, conv.padding, conv.dilation)]
    outputs = conv.out_channels * sizes[0] * sizes[1]
    per_output = (conv.in_channels if input_channels else 1) * int(np.prod(conv.kernel_size))
    return outputs * per_output + (outputs if bias else 0)


def macs_of_the_input_size(conv, height, width):
    return _macs(conv, height, width, output_size=False)


def macs_without_the_input_channels(conv, height, width):
    return _macs(conv, height, width, input_channels=False)


def macs_ignoring_the_stride(conv, height, width):
    return _macs(conv, height, width, stride=False)


def macs_ignoring_dilation(conv, height, width):
    return _macs(conv, height, width, dilation=False)


def macs_with_the_bias_additions(conv, height, width):
    return _macs(conv, height, width, bias=True)


SIGN_CASES = ("a random filter, 16 channels of 3 x 3", "the same filter, negated")
"""Without the sign rule one of these two fails; which one depends on the LAPACK build."""

WRONG = [  # check, wrong answer, the case(s) it fails, words of that case's hint, of the difference
    ("prototype", prototype_without_sign_fix, SIGN_CASES, "sign", "the values differ"),
    ("prototype", prototype_mean_over_channels, SIGN_CASES[:1], "one column per input channel",
     "the values differ"),
    ("prototype", prototype_right_singular_vector, SIGN_CASES[:1], "one column per input channel",
     "the shape is (16,), not (9,)"),
    ("greedy_pass", greedy_ties_to_the_higher_index, ("two filters",), "visit first",
     "you keep filters [1], which the pass drops, and you drop filters [0], which it keeps"),
    ("greedy_pass", greedy_not_skipping_marked_filters, ("two filters",), "at the second",
     "you keep filters [1], which the pass drops"),
    ("greedy_pass", greedy_only_the_never_marked, ("the chapter's worked example",),
     "still kept when a later pair marks it", "you drop filters [2], which it keeps"),
    ("greedy_pass", greedy_excluding_itself_by_adding_one,
     ("three filters at 120 degrees, no close pair",), "still another filter",
     "you keep filters [1], which the pass drops"),
    ("greedy_pass", greedy_nearest_tie_to_the_higher_index,
     ("a filter equally close to two others",), "by the chapter's tie rule", "you keep filters"),
    ("surgery", surgery_forgetting_the_next_layer, ("keep 3 of 6 filters",),
     "in the next convolution", "the next convolution's `weight`: the shape is (4, 6, 3, 3), "
     "not (4, 3, 3, 3)"),
    ("surgery", surgery_forgetting_the_running_statistics, ("keep 3 of 6 filters",),
     "all four of them", "the batch norm's `running_mean`: the shape is (6,), not (3,)"),
    ("surgery", surgery_in_the_order_given, ("keep filters listed out of order",),
     "may come in any order", "the convolution's `weight`: the values differ"),
    ("surgery", surgery_rebuilding_the_next_layer_without_its_stride,
     ("a next convolution of 5 x 5, stride 2, padding 2",), "Its kernel, stride, padding",
     "the next convolution's `stride` is (1, 1), not (2, 2)"),
    ("conv_macs", macs_of_the_input_size, ("a 3 x 3 kernel without padding",),
     "how large is the output map", "the values differ"),
    ("conv_macs", macs_without_the_input_channels, ("conv2 of the baseline on a 1-s clip",),
     "how many input channels", "the values differ"),
    ("conv_macs", macs_with_the_bias_additions, ("conv2 of the baseline on a 1-s clip",),
     "Bias additions are not counted", "the values differ"),
    ("conv_macs", macs_ignoring_the_stride, ("stride 2 on odd sizes",), "With a stride of 2",
     "the values differ"),
    ("conv_macs", macs_ignoring_dilation, ("a dilated 5 x 3 kernel, stride and padding per axis",),
     "how far does a dilated kernel reach", "the values differ"),
]


# Tests -------------------------------------------------------------------------------------

def test_every_check_is_exported_and_has_an_exercise():
    assert sorted(checks.pruning.__all__) == sorted(EXERCISES)
    assert {name for name, *_ in WRONG} == set(EXERCISES)


@pytest.mark.parametrize(("name", "answer", "cases", "hint", "difference"), WRONG,
                         ids=[answer.__name__ for _, answer, *_ in WRONG])
def test_a_wrong_answer_names_the_case_the_difference_and_the_hint(name, answer, cases, hint,
                                                                   difference):
    assert_explains_the_failure(getattr(checks, name)(answer), cases, hint, difference)


def draws_a_layer(*args):
    """A wrong answer that builds a layer, drawing its weights from the global generator."""
    return nn.Conv2d(3, 3, 3)


@pytest.mark.parametrize("name", ["surgery", "conv_macs"])
def test_the_layer_checks_leave_the_random_state_alone(name):
    state = torch.random.get_rng_state()
    getattr(checks, name)(draws_a_layer)
    path, label = EXERCISES[name]
    assert getattr(checks, name)(answer_from_notebook(path, label)).passed
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_greedy_check_says_when_only_the_order_is_wrong():
    path, label = EXERCISES["greedy_pass"]
    solution = answer_from_notebook(path, label)
    result = checks.greedy_pass(lambda distances: solution(distances)[::-1])
    assert result.status == "failed"
    assert "the same filters, in another order" in result.message


def test_the_greedy_check_names_the_filters_kept_or_dropped_wrongly():
    path, label = EXERCISES["greedy_pass"]
    solution = answer_from_notebook(path, label)
    result = checks.greedy_pass(lambda distances: solution(distances)[1:])
    assert "case *two filters*: you drop filters [0], which it keeps." in result.message
