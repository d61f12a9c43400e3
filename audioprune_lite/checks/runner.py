"""How a check runs a student's function: on copies of its inputs, with a time limit, and
reporting in words what went wrong.

A check is a list of :class:`Case` objects (inputs, the reference's answer, a hint) and
:func:`run_cases` runs a function on them, in order, until one fails. It never raises for
a wrong answer: it returns a :class:`CheckResult` that a notebook shows as a short coloured
message (passed, failed with the case, what was expected and what came back, and a hint
that does not give the answer away, or "not done yet" for an unfinished starter).
"""

from __future__ import annotations

import ast
import copy
import inspect
import signal
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "CheckResult", "close", "equal", "run_cases"]

TIME_LIMIT_S = 10.0
"""Seconds one case may run before the check stops it (an endless loop, say)."""

_ICONS = {"passed": "✅", "failed": "❌", "not done": "⏳"}


@dataclass(frozen=True, repr=False)
class CheckResult:
    """What a check found.

    Attributes
    ----------
    exercise : str
        The exercise's name, e.g. ``"the rank-1 prototype"``.
    status : str
        ``"passed"``, ``"failed"`` or ``"not done"`` (the starter is unfinished).
    message : str
        One or a few sentences: what passed, or which case failed, what was expected, what
        came back and a hint.
    """

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        """Whether every case passed."""
        return self.status == "passed"

    def __str__(self) -> str:
        return f"{_ICONS[self.status]} {self.exercise}: {self.message}"

    __repr__ = __str__  # what a console (and a notebook without Markdown) shows

    def _repr_markdown_(self) -> str:
        return f"{_ICONS[self.status]} **{self.exercise}**: {self.message}"


@dataclass(frozen=True)
class Case:
    """One input of a check and the answer the package's reference gives to it.

    Attributes
    ----------
    name : str
        Says what is special about the case, e.g. ``"a silent clip"``; shown on failure.
    args : tuple
        The positional arguments; each call gets a deep copy.
    expected : object
        The reference's answer.
    hint : str
        Shown when this case fails: a question that points at the cause.
    compare : callable, optional
        ``compare(got, expected)`` returns None when they agree, else a few words saying how
        they differ; default :func:`close`.
    """

    name: str
    args: tuple
    expected: Any
    hint: str = ""
    compare: Callable[[Any, Any], str | None] | None = field(default=None, compare=False)


class _TimeLimit(Exception):
    """Raised inside the student's function when its time is up."""


def run_cases(exercise: str, function, cases, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Run ``function`` on every case, in order; stop at the first that fails.

    Parameters
    ----------
    exercise : str
        The exercise's name, for the message.
    function : callable
        The student's answer.
    cases : sequence of Case
    time_limit : float
        Seconds per case (enforced with ``SIGALRM`` where the platform has it, in the main
        thread, as in a Jupyter kernel; elsewhere a case runs without a limit).

    Returns
    -------
    CheckResult
    """
    if not callable(function):
        return CheckResult(exercise, "failed", f"expected a function, got {_show(function)}.")
    for case in cases:
        try:
            got = _call(function, copy.deepcopy(case.args), time_limit)
        except NotImplementedError:
            return _not_done(exercise)
        except _TimeLimit:
            return CheckResult(exercise, "failed", f"case *{case.name}* was still running after "
                               f"{time_limit:g} s: is there a loop that never ends?")
        except Exception as error:  # any error in the student's code is reported, never raised
            return CheckResult(exercise, "failed", f"case *{case.name}*: your function raised "
                               f"{type(error).__name__}: {error}.{_hint(case)}")
        if got is Ellipsis or (got is None and _unfinished(function)):
            return _not_done(exercise)
        difference = (case.compare or close)(got, case.expected)
        if difference is not None:
            return CheckResult(exercise, "failed", f"case *{case.name}*: {difference}. Expected "
                               f"{_show(case.expected)}, got {_show(got)}.{_hint(case)}")
    names = ", ".join(case.name for case in cases)
    return CheckResult(exercise, "passed", f"all {len(cases)} cases agree with the reference ({names}).")


def _not_done(exercise: str) -> CheckResult:
    return CheckResult(exercise, "not done", "not done yet: write the function's body, then run "
                       "this cell again.")


def _hint(case: Case) -> str:
    return f" Hint: {case.hint}" if case.hint else ""


def _call(function, args: tuple, time_limit: float):
    """``function(*args)``, stopped after ``time_limit`` seconds where signals allow it."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        return function(*args)

    def stop(signum, frame):
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _unfinished(function) -> bool:
    """Whether ``function``'s body is only a docstring and ``...`` or ``pass``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # no source to read (a built-in, a lambda in a REPL)
        return False
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef):
        return False  # a lambda, say: it cannot be a starter
    body = tree.body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return all(isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(
        node.value, ast.Constant) and node.value.value is Ellipsis) for node in body)


def _show(value, limit: int = 200) -> str:
    """A short text for a value: arrays by shape, dtype and a few entries."""
    if isinstance(value, np.ndarray):
        entries = np.array2string(value, threshold=8, edgeitems=2, precision=4)
        text = f"an array of shape {value.shape} ({value.dtype}) {' '.join(entries.split())}"
    elif hasattr(value, "detach") and hasattr(value, "shape"):  # a torch tensor
        return "a tensor: " + _show(value.detach().cpu().numpy(), limit)
    else:
        text = repr(value)
    return f"`{text if len(text) <= limit else text[:limit - 3] + '...'}`"


def close(got, expected, *, rtol: float = 1e-4, atol: float = 1e-6) -> str | None:
    """None if ``got`` equals ``expected`` to a tolerance (arrays, numbers, nested lists and
    mappings of them), else how they differ: type, shape, non-finite values or values.

    Where the reference has NaN (no value, e.g. no interval from a single seed), ``got`` must
    have NaN too, and only there."""
    if got is None and expected is not None:
        return "your function returned None: is a `return` missing?"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got {type(got).__name__}"
        if set(got) != set(expected):
            return f"the keys differ (missing {sorted(set(expected) - set(got))}, extra {sorted(set(got) - set(expected))})"
        for key in expected:
            difference = close(got[key], expected[key], rtol=rtol, atol=atol)
            if difference:
                return f"at key {key!r}: {difference}"
        return None
    try:
        got_array = np.asarray(got.detach().cpu() if hasattr(got, "detach") else got, dtype=float)
    except (TypeError, ValueError):
        return f"expected numbers, got {type(got).__name__}"
    expected_array = np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        return f"the shape is {got_array.shape}, not {expected_array.shape}"
    no_value = np.isnan(expected_array)  # the reference's "no value", e.g. no interval from one seed
    if (np.isnan(got_array) != no_value).any():
        return ("some values are not finite or not NaN where they should be: NaN, which stands "
                "for no interval or no value, does not come back exactly where expected")
    if not np.isfinite(got_array[~no_value]).all() and np.isfinite(expected_array[~no_value]).all():
        return "some values are not finite (infinite)"
    got_array, expected_array = np.where(no_value, 0.0, got_array), np.where(no_value, 0.0, expected_array)
    if not np.allclose(got_array, expected_array, rtol=rtol, atol=atol):
        worst = np.unravel_index(np.argmax(np.abs(got_array - expected_array)), got_array.shape)
        return (f"the values differ (most at index {tuple(int(i) for i in worst)}: "
                f"{got_array[worst]:.6g} instead of {expected_array[worst]:.6g})")
    return None


def equal(got, expected) -> str | None:
    """None if ``got`` equals ``expected`` exactly (integers, index arrays, strings), else how
    they differ."""
    try:
        same = np.array_equal(np.asarray(got), np.asarray(expected))
    except (TypeError, ValueError):
        same = False
    if same:
        return None
    if np.shape(got) != np.shape(expected):
        return f"the shape is {np.shape(got)}, not {np.shape(expected)}"
    return "the values differ"
