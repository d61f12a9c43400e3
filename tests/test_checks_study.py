"""The checks of Chapters 6 and 7 on plausible wrong answers: each names the case that
failed, what was expected, what came back and the hint (what every check promises for
every exercise is tested in ``test_checks.py``)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import answer_from_notebook, assert_explains_the_failure
from scipy import stats

from audioprune_lite import checks
from audioprune_lite.metrics import seed_interval

ROOT = Path(__file__).resolve().parents[1]

CHAPTER_6 = ROOT / "book" / "06_co2_estimation.ipynb"
CHAPTER_7 = ROOT / "book" / "07_reproduce.ipynb"

EXERCISES = {  # check: (chapter, exercise label)
    "energy": (CHAPTER_6, "ch6-energy"),
    "emissions": (CHAPTER_6, "ch6-co2"),
    "t_interval": (CHAPTER_7, "ch7-t-interval"),
    "paired_drop": (CHAPTER_7, "ch7-drop"),
}


# Plausible wrong answers -----------------------------------------------------------------

def _joules(power_w, seconds):
    return np.sum(np.asarray(power_w, dtype=float) * np.asarray(seconds, dtype=float))


def energy_ignoring_durations(power_w, seconds):
    return float(np.sum(power_w) / 3.6e6)


def energy_divided_by_1000_only(power_w, seconds):
    return float(_joules(power_w, seconds) / 1000)


def energy_in_watt_hours(power_w, seconds):
    return float(_joules(power_w, seconds) / 3600)


def energy_per_interval(power_w, seconds):
    return np.asarray(power_w, dtype=float) * seconds / 3.6e6


def energy_assuming_equal_intervals(power_w, seconds):
    return float(np.sum(power_w) * np.mean(seconds) / 3.6e6)


def emissions_in_grams(energy_kwh, intensity_g_per_kwh):
    return energy_kwh * intensity_g_per_kwh


def emissions_dividing_by_the_intensity(energy_kwh, intensity_g_per_kwh):
    return 1000 * energy_kwh / intensity_g_per_kwh


def emissions_summed_over_grids(energy_kwh, intensity_g_per_kwh):
    return float(np.sum(energy_kwh * intensity_g_per_kwh) / 1000)


def _half_width(values, quantile, ddof=1):
    values = np.asarray(values, dtype=float)
    return float(quantile * values.std(ddof=ddof) / np.sqrt(len(values)))


def interval_with_the_normal_quantile(values, confidence=0.95):
    return _half_width(values, 1.96)


def interval_with_ddof_0(values, confidence=0.95):
    return _half_width(values, stats.t.ppf(1 - (1 - confidence) / 2, len(values) - 1), ddof=0)


def interval_one_sided(values, confidence=0.95):
    return _half_width(values, stats.t.ppf(confidence, len(values) - 1))


def interval_zero_for_one_seed(values, confidence=0.95):
    return 0.0 if len(values) < 2 else seed_interval(values, confidence)


def interval_at_95_percent_always(values, confidence=0.95):
    return seed_interval(values)


def interval_from_scipys_t_interval(values, confidence=0.95):
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's warning for one value: the case is about NaN
        low, high = stats.t.interval(confidence, len(values) - 1, loc=values.mean(),
                                     scale=stats.sem(values))
    return float((high - low) / 2)


def _accuracy_by_seed(runs, pruned, method):
    return 100 * runs[(runs["pruned"] == pruned) & (runs["method"] == method)].set_index("seed")["accuracy"]


def drop_from_the_network_as_trained(runs, pruned, method):
    reference, row = _accuracy_by_seed(runs, "none", "none"), _accuracy_by_seed(runs, pruned, method)
    return reference.mean() - row.mean(), seed_interval(reference - row.reindex(reference.index))


def drop_with_the_interval_of_the_row_alone(runs, pruned, method):
    reference, row = _accuracy_by_seed(runs, "none", "fine-tuned"), _accuracy_by_seed(runs, pruned, method)
    return reference.mean() - row.mean(), seed_interval(row)


def _paired(runs, pruned, method, sign=1.0, scale=1.0):
    reference, row = _accuracy_by_seed(runs, "none", "fine-tuned"), _accuracy_by_seed(runs, pruned, method)
    differences = sign * scale * (reference - row.reindex(reference.index))
    return sign * scale * (reference.mean() - row.mean()), seed_interval(differences)


def drop_pruned_minus_unpruned(runs, pruned, method):
    return _paired(runs, pruned, method, sign=-1.0)


def drop_in_fractions(runs, pruned, method):
    return _paired(runs, pruned, method, scale=0.01)


def drop_as_a_size(runs, pruned, method):
    drop, half_width = _paired(runs, pruned, method)
    return abs(drop), half_width


def drop_paired_by_position(runs, pruned, method):
    reference, row = _accuracy_by_seed(runs, "none", "fine-tuned"), _accuracy_by_seed(runs, pruned, method)
    if len(row) != len(reference):
        return reference.mean() - row.mean(), float("nan")
    return reference.mean() - row.mean(), seed_interval(reference.to_numpy() - row.to_numpy())


def drop_as_the_mean_of_paired_differences(runs, pruned, method):
    reference, row = _accuracy_by_seed(runs, "none", "fine-tuned"), _accuracy_by_seed(runs, pruned, method)
    differences = (reference - row.reindex(reference.index)).dropna()
    return differences.mean(), seed_interval(differences)


NO_INTERVAL = "NaN, which stands for no interval"
WRONG = [  # check, wrong answer, the case it fails, words of that case's hint, of the difference
    ("energy", energy_ignoring_durations, "250 W for no time at all", "depend on `seconds`",
     "the values differ"),
    ("energy", energy_divided_by_1000_only, "the article's 48 hours at 250 W",
     "how many joules make one kWh", "43200 instead of 12"),
    ("energy", energy_in_watt_hours, "the article's 48 hours at 250 W",
     "how many joules make one kWh", "12000 instead of 12"),
    ("energy", energy_per_interval, "an hour of readings every 15 s", "add up its intervals",
     "the shape is (240,), not ()"),
    ("energy", energy_assuming_equal_intervals, "readings at uneven intervals",
     "that interval's own length", "the values differ"),
    ("emissions", emissions_in_grams, "the article's 12 kWh on the UK grid",
     "how many grams make a kilogram", "the values differ"),
    ("emissions", emissions_dividing_by_the_intensity, "the article's 12 kWh on the UK grid",
     "what does kWh times g/kWh leave", "the values differ"),
    ("emissions", emissions_summed_over_grids, "one energy on eight grids", "one answer per grid",
     "the shape is (), not (8,)"),
    ("t_interval", interval_with_the_normal_quantile, "three seeds", "two degrees of freedom",
     "the values differ"),
    ("t_interval", interval_with_ddof_0, "three seeds", "the standard deviation",
     "the values differ"),
    ("t_interval", interval_one_sided, "three seeds", "the quantile (two-sided)",
     "the values differ"),
    ("t_interval", interval_zero_for_one_seed, "one seed", "fewer than two values", NO_INTERVAL),
    ("t_interval", interval_from_scipys_t_interval, "three identical values", "no spread",
     NO_INTERVAL),
    ("t_interval", interval_at_95_percent_always, "a 90 % interval", "Is `confidence` used",
     "the values differ"),
    ("paired_drop", drop_from_the_network_as_trained,
     "the unpruned network fine-tuned alike itself", "which rows are your reference",
     NO_INTERVAL),
    ("paired_drop", drop_with_the_interval_of_the_row_alone,
     "the unpruned network fine-tuned alike itself", "taken over the differences",
     "the values differ"),
    ("paired_drop", drop_pruned_minus_unpruned, "C2 by cosine", "the reference minus the pruned",
     "the values differ"),
    ("paired_drop", drop_in_fractions, "C2 by cosine", "in points", "the values differ"),
    ("paired_drop", drop_as_a_size, "C3 by l1 (a gain)", "a negative drop", "the values differ"),
    ("paired_drop", drop_paired_by_position, "C1+C2+C3 by cosine with its seeds out of order",
     "paired by their seed", "the values differ"),
    ("paired_drop", drop_as_the_mean_of_paired_differences, "C1 by random pruning with one seed",
     "difference of the two mean accuracies", "the values differ"),
]


# Tests -------------------------------------------------------------------------------------

def test_every_check_is_exported_and_has_an_exercise():
    assert sorted(checks.study.__all__) == sorted(EXERCISES)
    assert {name for name, *_ in WRONG} == set(EXERCISES)
    assert all(getattr(checks, name) is getattr(checks.study, name) for name in EXERCISES)


@pytest.mark.parametrize(("name", "answer", "case", "hint", "difference"), WRONG,
                         ids=[answer.__name__ for _, answer, *_ in WRONG])
def test_a_wrong_answer_names_the_case_the_difference_and_the_hint(name, answer, case, hint,
                                                                   difference):
    assert_explains_the_failure(getattr(checks, name)(answer), case, hint, difference)


def overwrite(value) -> None:
    """Write into ``value`` in place, whatever it is: zeros into an array, a Series or every
    column of a DataFrame, no items left in a list."""
    if isinstance(value, np.ndarray):
        value[...] = 0
    elif isinstance(value, pd.Series):
        value.iloc[:] = 0
    elif isinstance(value, pd.DataFrame):
        for column in value.columns:
            value[column] = 0
    elif isinstance(value, list):
        value.clear()


def writing_into_its_inputs_after(solution):
    """``solution``, which then overwrites its inputs: right answers, every case's inputs spoilt."""
    def answer(*args):
        result = solution(*args)
        for value in args:
            overwrite(value)
        return result
    return answer


@pytest.mark.parametrize("name", EXERCISES)
def test_the_check_is_quick(name):
    path, label = EXERCISES[name]
    solution = answer_from_notebook(path, label)
    getattr(checks, name)(solution)  # codecarbon's imports and tables, once
    start = time.perf_counter()
    assert getattr(checks, name)(solution).passed
    assert time.perf_counter() - start < 1.0
