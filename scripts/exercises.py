"""The coding exercises of a chapter, as each edition shows them, with nbgrader's cell metadata.

A coding exercise is two code cells of a chapter notebook (see the instructor page):

- the **answer cell** (metadata ``audioprune.answer`` = the exercise's label), inside the
  exercise's solution: one function with its docstring, the solution as its body;
- the **check cell** (metadata ``audioprune.check`` = the label, ``audioprune.points``),
  after the solution: ``checks.<name>(<function>)``.

From that one source:

- the book and the notebook edition show the solution folded and the check's result;
- the **student edition** keeps the answer cell as a *starter*: the signature and the
  docstring, the body replaced by nbgrader's stub (``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``), so the check reports "not done yet";
- the **instructor edition** is nbgrader's *source* version: the solution's body between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and after each check a grading assert
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``. ``nbgrader
  generate_assignment`` turns it into the student edition (cell for cell), and ``nbgrader
  autograde`` restores the hidden asserts when it grades.

Both editions carry nbgrader's metadata: the answer cell is a solution cell, the check
cell an autograded test cell worth its points.
"""

from __future__ import annotations

import ast

import nbformat

STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
"""nbgrader's stub for the body of a solution (what ``generate_assignment`` writes)."""

NBGRADER_SCHEMA = 3


def answer_label(cell) -> str | None:
    """The exercise whose answer ``cell`` holds, or None."""
    return cell.get("metadata", {}).get("audioprune", {}).get("answer")


def check_label(cell) -> str | None:
    """The exercise whose check ``cell`` runs, or None."""
    return cell.get("metadata", {}).get("audioprune", {}).get("check")


def _split(source: str, label: str) -> tuple[list[str], list[str], str]:
    """``(head, body, indent)``: the answer's lines up to its docstring, its body, its indentation.

    Raises
    ------
    ValueError
        The cell does not hold exactly one function with a docstring and a body, last.
    """
    tree = ast.parse(source)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if len(functions) != 1 or tree.body[-1] is not functions[0]:
        raise ValueError(f"the answer cell of {label} must end with its one function")
    function = functions[0]
    if ast.get_docstring(function) is None or len(function.body) < 2:
        raise ValueError(f"the function of {label} needs a docstring and a body")
    lines = source.splitlines()
    first = function.body[1]
    head, body = lines[: first.lineno - 1], lines[first.lineno - 1: function.end_lineno]
    indent = body[0][: len(body[0]) - len(body[0].lstrip())]
    return head, body, indent


def starter(source: str, label: str) -> str:
    """The answer cell as students get it: the function's body replaced by nbgrader's stub."""
    head, _, indent = _split(source, label)
    return "\n".join([*head, *(indent + line for line in STUB)])


def nbgrader_source(source: str, label: str) -> str:
    """The answer cell as nbgrader's source: the body between the solution markers."""
    head, body, indent = _split(source, label)
    return "\n".join([*head, f"{indent}### BEGIN SOLUTION", *body, f"{indent}### END SOLUTION"])


def graded_check(source: str) -> str:
    """The check cell as nbgrader's source: the check, then a grading assert hidden from students."""
    call = source.strip()
    return "\n".join([call, "### BEGIN HIDDEN TESTS", f"assert (result := {call}).passed, result.message",
                      "### END HIDDEN TESTS"])


def _nbgrader(cell, grade_id: str, *, solution: bool, points: int | None) -> dict:
    metadata = {"grade": points is not None, "grade_id": grade_id, "locked": not solution,
                "schema_version": NBGRADER_SCHEMA, "solution": solution, "task": False}
    if points is not None:
        metadata["points"] = points
    return {**cell.metadata, "nbgrader": metadata}


def for_students(cell, *, instructor: bool) -> nbformat.NotebookNode:
    """An answer or check cell of the student (or, with ``instructor``, the instructor) edition."""
    label = answer_label(cell)
    if label is not None:
        source = (nbgrader_source if instructor else starter)(cell.source, label)
        metadata = _nbgrader(cell, f"{label}-answer", solution=True, points=None)
    else:
        label = check_label(cell)
        source = graded_check(cell.source) if instructor else cell.source
        points = int(cell.metadata["audioprune"].get("points", 1))
        metadata = _nbgrader(cell, f"{label}-check", solution=False, points=points)
    return nbformat.from_dict({**cell, "source": source, "metadata": metadata})
