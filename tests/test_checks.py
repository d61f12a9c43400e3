"""What every check of a coding exercise promises, for every exercise of every chapter.

The exercises are found in the chapter notebooks (their answer and check cells). Each check
passes the chapter's own solution; says "not done yet" for nbgrader's stub (the student
edition's starter) and for a body of ``...``; reports an error raised by the student's code
with its cause; and cannot be changed by an answer that writes into its inputs. What each
check says about plausible wrong answers is tested per chapter, in ``test_checks_*.py``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from conftest import answer_from_notebook

from audioprune_lite import checks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import exercises  # noqa: E402


def coding_exercises() -> list[tuple[Path, str, str]]:
    """``(chapter, label, check name)`` of every coding exercise of the book."""
    found = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if exercises.check_label(cell):
                name = re.fullmatch(r"checks\.(\w+)\(\w+\)", cell.source.strip()).group(1)
                found.append((path, exercises.check_label(cell), name))
    return found


EXERCISES = coding_exercises()
IDS = [label for _, label, _ in EXERCISES]


def function_of(source: str, label: str):
    (name,) = [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    namespace: dict = {}
    exec(compile(source, label, "exec"), namespace)
    return namespace[name]


def starter_of(path: Path, label: str):
    (cell,) = [c for c in nbformat.read(path, as_version=4).cells if exercises.answer_label(c) == label]
    return function_of(exercises.starter(cell.source, label), label)


def test_every_check_is_used_by_one_exercise():
    names = [name for _, _, name in EXERCISES]
    exported = [name for module in (checks.features, checks.training, checks.pruning,
                                    checks.study, checks.deploy)
                for name in module.__all__]
    assert sorted(names) == sorted(exported)


@pytest.mark.parametrize("path, label, name", EXERCISES, ids=IDS)
def test_the_chapters_solution_passes(path, label, name):
    result = getattr(checks, name)(answer_from_notebook(path, label))
    assert result.passed, result.message
    assert result._repr_markdown_().startswith("✅")


@pytest.mark.parametrize("path, label, name", EXERCISES, ids=IDS)
def test_the_student_editions_starter_is_not_done_yet(path, label, name):
    result = getattr(checks, name)(starter_of(path, label))
    assert result.status == "not done" and "not done yet" in result.message


def only_an_ellipsis(*args, **kwargs):
    """An answer not started."""
    ...


@pytest.mark.parametrize("path, label, name", EXERCISES, ids=IDS)
def test_a_body_of_only_an_ellipsis_is_not_done_yet(path, label, name):
    assert getattr(checks, name)(only_an_ellipsis).status == "not done"


def raises(*args, **kwargs):
    raise ValueError("operands could not be broadcast together")


@pytest.mark.parametrize("path, label, name", EXERCISES, ids=IDS)
def test_an_error_in_the_answer_is_reported_with_its_cause(path, label, name):
    result = getattr(checks, name)(raises)
    assert result.status == "failed" and "case *" in result.message
    assert "your function raised ValueError: operands could not be broadcast" in result.message


def _overwrite(value) -> None:
    """Write zeros into an array or tensor (or those in a list or a dict).

    A layer or model is left alone: changing it is what some exercises ask for (one
    training epoch), and their checks read it afterwards.
    """
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value[...] = 0
    elif isinstance(value, torch.Tensor):
        with torch.no_grad():
            value.zero_()
    elif isinstance(value, (list, tuple)):
        for item in value:
            _overwrite(item)
    elif isinstance(value, dict):
        for item in value.values():
            _overwrite(item)


@pytest.mark.parametrize("path, label, name", EXERCISES, ids=IDS)
def test_an_answer_that_writes_into_its_inputs_cannot_change_the_cases(path, label, name):
    solution = answer_from_notebook(path, label)
    check = getattr(checks, name)

    def right_but_destructive(*args, **kwargs):
        answer = solution(*args, **kwargs)
        for value in [*args, *kwargs.values()]:
            _overwrite(value)
        return answer

    assert check(right_but_destructive).passed  # each case gets its own copy of the inputs
    assert check(right_but_destructive).passed
    assert check(solution).passed
