"""The checks of Chapter 9 on plausible wrong answers: each names the case that failed, what
was expected, what came back and the hint (what every check promises for every exercise is
tested in ``test_checks.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import answer_from_notebook, assert_explains_the_failure
from scipy import stats
from torch import nn

from audioprune_lite import checks, deploy

CHAPTER_9 = Path(__file__).resolve().parents[1] / "book" / "09_deploy.ipynb"

EXERCISES = {"challenge_bytes": "ch9-count", "median_interval": "ch9-interval"}  # check: label


# Plausible wrong answers: the challenge's count ----------------------------------------------

def _bytes(tensors, bytes_per_parameter, count_zeros) -> int:
    with torch.no_grad():
        return bytes_per_parameter * sum(t.numel() if count_zeros else int(torch.count_nonzero(t))
                                         for t in tensors)


def _running_statistics(model):
    return [tensor for module in model.modules() if isinstance(module, nn.BatchNorm2d)
            for tensor in (module.running_mean, module.running_var)]


def _used_parameters(model):
    """Every parameter as the network uses it: ``weight`` of a masked layer, not ``weight_orig``."""
    return [getattr(module, name.removesuffix("_orig")) for module in model.modules()
            for name, _ in module.named_parameters(recurse=False)]


def bytes_of_the_parameters_only(model, bytes_per_parameter, count_zeros):
    return _bytes(_used_parameters(model), bytes_per_parameter, count_zeros)


def bytes_of_the_state_dict(model, bytes_per_parameter, count_zeros):
    return _bytes(model.state_dict().values(), bytes_per_parameter, count_zeros)


def bytes_of_the_state_dict_but_its_counters(model, bytes_per_parameter, count_zeros):
    return _bytes([value for name, value in model.state_dict().items()
                   if not name.endswith("num_batches_tracked")], bytes_per_parameter, count_zeros)


def bytes_counting_zeros_always(model, bytes_per_parameter, count_zeros):
    return _bytes(_used_parameters(model) + _running_statistics(model), bytes_per_parameter, True)


def bytes_of_the_weights_before_masking(model, bytes_per_parameter, count_zeros):
    return _bytes([*model.parameters(), *_running_statistics(model)], bytes_per_parameter,
                  count_zeros)


# Plausible wrong answers: the interval of a median -------------------------------------------

def _k(n, confidence):
    return int(stats.binom.ppf((1 - confidence) / 2, n, 0.5))


def interval_without_sorting(times, confidence):
    values = np.asarray(times, dtype=float)
    k = max(_k(len(values), confidence), 1)
    return float(values[k - 1]), float(values[len(values) - k])


def interval_one_position_inwards(times, confidence):
    values = np.sort(np.asarray(times, dtype=float))
    k = max(_k(len(values), confidence), 1)
    return float(values[k]), float(values[len(values) - k - 1])


def interval_from_the_normal_approximation(times, confidence):
    values = np.asarray(times, dtype=float)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    return float(np.median(values) - half_width), float(np.median(values) + half_width)


def interval_at_95_percent_always(times, confidence):
    return deploy.median_interval(times, 0.95)


def interval_of_the_distinct_values(times, confidence):
    values = np.unique(np.asarray(times, dtype=float))
    k = max(_k(len(values), confidence), 1)
    return float(values[k - 1]), float(values[len(values) - k])


def interval_without_the_fallback(times, confidence):
    values = np.sort(np.asarray(times, dtype=float))
    k = _k(len(values), confidence)
    return float(values[k - 1]), float(values[len(values) - k])


WRONG = [  # check, wrong answer, the case it fails, words of that case's hint
    ("challenge_bytes", bytes_of_the_parameters_only,
     "a small network with a batch norm at float32", "running mean and running variance"),
    ("challenge_bytes", bytes_of_the_state_dict,
     "a small network with a batch norm at float32", "no other buffer"),
    ("challenge_bytes", bytes_of_the_state_dict_but_its_counters,
     "the baseline at float16 counting every parameter", "input's mean and standard deviation"),
    ("challenge_bytes", bytes_counting_zeros_always,
     "the untrained baseline at float16 counting non-zeros", "do your zeros still count"),
    ("challenge_bytes", bytes_of_the_weights_before_masking,
     "the masked baseline at float16 counting non-zeros", "`weight_orig`"),
    ("median_interval", interval_one_position_inwards, "30 sorted timings at 95 %",
     "counting from 0"),
    ("median_interval", interval_from_the_normal_approximation, "30 sorted timings at 95 %",
     "two of the timings themselves"),
    ("median_interval", interval_without_sorting, "30 timings as measured at 95 %",
     "in which order"),
    ("median_interval", interval_at_95_percent_always, "30 timings at 99 %",
     "is `confidence` used"),
    ("median_interval", interval_of_the_distinct_values, "30 timings with ties at 95 %",
     "Equal timings are separate measurements"),
]


# Tests -------------------------------------------------------------------------------------

def test_every_check_is_exported_and_has_an_exercise():
    assert sorted(checks.deploy.__all__) == sorted(EXERCISES)
    assert {name for name, *_ in WRONG} == set(EXERCISES)
    assert all(getattr(checks, name) is getattr(checks.deploy, name) for name in EXERCISES)


@pytest.mark.parametrize("name", EXERCISES)
def test_the_chapters_solution_passes_quickly(name):
    solution = answer_from_notebook(CHAPTER_9, EXERCISES[name])
    getattr(checks, name)(solution)  # the first call's imports and allocations
    start = time.perf_counter()
    assert getattr(checks, name)(solution).passed
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(("name", "answer", "case", "hint"), WRONG,
                         ids=[answer.__name__ for _, answer, *_ in WRONG])
def test_a_wrong_answer_names_the_case_the_difference_and_the_hint(name, answer, case, hint):
    assert_explains_the_failure(getattr(checks, name)(answer), case, hint, "the values differ")


def test_an_interval_without_the_fallback_fails_naming_its_index_error():
    result = checks.median_interval(interval_without_the_fallback)
    assert result.status == "failed", result.message
    assert "case *five timings at 95 %*: your function raised IndexError" in result.message
    assert "Hint:" in result.message and "k is below 1" in result.message


def test_sorting_the_timings_in_place_changes_no_case():
    def sorting_in_place_one_position_inwards(times, confidence):
        times.sort()  # an array or a list, sorted where it lies
        return interval_one_position_inwards(times, confidence)

    for _ in range(2):
        assert checks.median_interval(sorting_in_place_one_position_inwards).status == "failed"
    assert_explains_the_failure(checks.median_interval(interval_without_sorting),
                                "30 timings as measured at 95 %", "in which order",
                                "the values differ")
    assert checks.median_interval(answer_from_notebook(CHAPTER_9, "ch9-interval")).passed


def test_zeroing_the_network_changes_no_case():
    solution = answer_from_notebook(CHAPTER_9, "ch9-count")

    def counting_then_zeroing(model, bytes_per_parameter, count_zeros):
        counted = solution(model, bytes_per_parameter, count_zeros)
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                tensor.zero_()
        return counted

    assert checks.challenge_bytes(counting_then_zeroing).passed
    assert checks.challenge_bytes(counting_then_zeroing).passed
    assert checks.challenge_bytes(solution).passed


def test_the_count_leaves_the_random_state_alone():
    state = torch.random.get_rng_state()
    checks.challenge_bytes(answer_from_notebook(CHAPTER_9, "ch9-count"))
    assert torch.equal(torch.random.get_rng_state(), state)
