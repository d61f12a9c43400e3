"""How a check runs a student's function: what it reports for every kind of answer."""

from __future__ import annotations

import numpy as np
import pytest

from audioprune_lite.checks import Case, CheckResult, run_cases
from audioprune_lite.checks.runner import close, equal

CASES = [Case("three ones", (np.ones(3),), np.full(3, 2.0), hint="What is twice one?"),
         Case("an empty array", (np.zeros(0),), np.zeros(0))]


def double(x):
    """Twice ``x``."""
    return 2 * x


def unfinished(x):
    """Twice ``x``."""
    ...


def stub(x):
    """Twice ``x``."""
    # YOUR CODE HERE
    raise NotImplementedError()


def test_a_right_answer_passes_and_names_its_cases():
    result = run_cases("doubling", double, CASES)
    assert result.passed and result.status == "passed"
    assert "three ones" in result.message and "an empty array" in result.message
    assert result._repr_markdown_().startswith("✅ **doubling**")
    assert repr(result) == str(result) and str(result).startswith("✅ doubling")


@pytest.mark.parametrize("function", [unfinished, stub], ids=["ellipsis", "nbgrader stub"])
def test_an_unfinished_starter_is_not_done_yet(function):
    result = run_cases("doubling", function, CASES)
    assert result.status == "not done" and not result.passed
    assert "not done yet" in result.message and "Traceback" not in result.message


def test_a_wrong_answer_names_the_case_what_was_expected_what_came_back_and_the_hint():
    result = run_cases("doubling", lambda x: 3 * x, CASES)
    assert result.status == "failed"
    assert "*three ones*" in result.message
    assert "Expected `an array of shape (3,)" in result.message and "got `an array" in result.message
    assert "[3. 3. 3.]" in result.message and "Hint: What is twice one?" in result.message
    assert result._repr_markdown_().startswith("❌")


@pytest.mark.parametrize("answer, words", [
    (lambda x: x.sum(), "the shape is (), not (3,)"),
    (lambda x: None, "returned None"),
    (lambda x: x / 0.0 * 0.0, "not finite"),
    (lambda x: "two", "expected numbers"),
])
def test_each_kind_of_difference_is_said_in_words(answer, words):
    with np.errstate(all="ignore"):
        result = run_cases("doubling", answer, CASES)
    assert result.status == "failed" and words in result.message


def test_an_error_in_the_students_code_is_reported_with_its_cause():
    def broken(x):
        return x["missing"]

    result = run_cases("doubling", broken, CASES)
    assert result.status == "failed"
    assert "*three ones*: your function raised IndexError" in result.message


def test_an_endless_loop_hits_the_time_limit():
    def endless(x):
        while True:
            pass

    result = run_cases("doubling", endless, CASES, time_limit=0.2)
    assert result.status == "failed" and "still running after 0.2 s" in result.message


def test_a_function_that_changes_its_input_cannot_change_the_cases():
    def in_place(x):
        x *= 3
        return x

    assert run_cases("doubling", in_place, CASES).status == "failed"
    assert run_cases("doubling", in_place, CASES).status == "failed"
    assert np.array_equal(CASES[0].args[0], np.ones(3))
    assert run_cases("doubling", double, CASES).passed


def test_something_that_is_not_a_function_is_said_so():
    result = run_cases("doubling", 42, CASES)
    assert result.status == "failed" and "expected a function, got `42`" in result.message


def test_the_comparisons():
    assert close({"a": np.ones(2)}, {"a": np.ones(2) + 1e-9}) is None
    assert "at key 'a'" in close({"a": np.ones(2)}, {"a": np.zeros(2)})
    assert "keys differ" in close({"a": 1}, {"b": 1})
    assert "most at index (1,): 5 instead of 2" in close(np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    assert equal(np.array([0, 2]), [0, 2]) is None
    assert equal([0, 2], [0, 3]) == "the values differ"
    assert equal([0], [0, 3]) == "the shape is (1,), not (2,)"
    assert isinstance(run_cases("x", double, []), CheckResult)
