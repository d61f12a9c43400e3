"""The student edition removes every solution, keeps every exercise (coding exercises as
starters), and still runs, every check saying "not done yet" (`make test` executes it
after the book build: `pytest -m student`)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import editions  # noqa: E402
import exercises  # noqa: E402


def python_source(source: str) -> str:
    """A cell's code as plain Python (IPython magics such as %pip turned into calls)."""
    return TransformerManager().transform_cell(source)


def names_assigned(source: str) -> set[str]:
    tree = ast.parse(python_source(source))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return names


def names_used(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(python_source(source))) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_removed_and_nothing_else(path):
    original = nbformat.read(path, as_version=4)
    edition = editions.remove_solutions(original)
    text = "\n".join(cell.source for cell in edition.cells)
    assert "solution-start" not in text and "solution-end" not in text
    exercises_ = sum(cell.source.count("```{exercise}") for cell in original.cells)
    assert exercises_ >= 3, "every chapter has at least three exercises"
    assert text.count("```{exercise}") == exercises_
    starters = {cell.source: exercises.starter(cell.source, exercises.answer_label(cell))
                for cell in original.cells if exercises.answer_label(cell)}
    original_code = [starters.get(c.source, c.source) for c in original.cells if c.cell_type == "code"]
    edition_code = [c.source for c in edition.cells if c.cell_type == "code"]
    iterator = iter(original_code)
    assert all(any(source == other for other in iterator) for source in edition_code), \
        "the code cells kept are the original ones (answers as starters), in order"
    removed = [s for s in original_code if s not in edition_code]
    assert removed, "each chapter has solutions with code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_has_two_checked_coding_exercises(path):
    cells = nbformat.read(path, as_version=4).cells
    answers = [exercises.answer_label(c) for c in cells if exercises.answer_label(c)]
    checks = [exercises.check_label(c) for c in cells if exercises.check_label(c)]
    assert len(answers) >= 2 and sorted(answers) == sorted(checks) and len(set(answers)) == len(answers)
    for cell in cells:
        if exercises.answer_label(cell):
            exercises.starter(cell.source, exercises.answer_label(cell))  # raises if it cannot
        if exercises.check_label(cell):
            assert re.fullmatch(r"checks\.\w+\(\w+\)", cell.source.strip()), cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_later_cells_never_need_what_a_solution_defined(path):
    """Nothing after a solution uses what it defined; a coding exercise's function (the
    student's answer, perhaps unfinished) is used by its check cell alone."""
    original = nbformat.read(path, as_version=4)
    edition = editions.remove_solutions(original)
    kept = {c.source for c in edition.cells if c.cell_type == "code"}
    defined_in_solutions, answers = set(), {}
    for cell in original.cells:
        if cell.cell_type != "code":
            continue
        if exercises.answer_label(cell):
            answers[exercises.answer_label(cell)] = names_assigned(cell.source)
            continue
        if cell.source in kept:
            allowed = answers.get(exercises.check_label(cell), set())
            needed = names_used(cell.source) - names_assigned(cell.source) - allowed
            forbidden = defined_in_solutions | set().union(*answers.values())
            assert not needed & forbidden, f"{path.name} needs {needed & forbidden}"
        else:
            defined_in_solutions |= names_assigned(cell.source)


def test_unbalanced_solutions_are_refused():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: x\nDo it.\n```\n\n```{solution-start} x\n```"),
        nbformat.v4.new_code_cell("answer = 42"),
    ])
    with pytest.raises(ValueError, match="no matching solution-end"):
        editions.remove_solutions(notebook)
    notebook.cells.append(nbformat.v4.new_markdown_cell("```{solution-end}\n```\nAfter."))
    edition = editions.remove_solutions(notebook)
    assert [c.source for c in edition.cells] == ["```{exercise}\n:label: x\nDo it.\n```", "After."]


@pytest.mark.student
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_student_edition_executes(path):
    """Run by `make test` after the book build: the edition is made from its executed
    notebooks, and data and models come from its cache."""
    executed = editions.EXECUTED / path.name
    if not executed.is_file():
        pytest.fail(f"no {executed}: run `make book` first")
    citations = editions.read_citations(editions.BIBLIOGRAPHY)
    edition = editions.edition(executed, kind="student", citations=citations)
    client = nbclient.NotebookClient(edition, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    code = [cell for cell in edition.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), "a code cell did not run"
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    checks = [cell for cell in code if exercises.check_label(cell)]
    assert len(checks) >= 2
    for cell in checks:  # every check runs on its unfinished starter
        shown = "".join(output.get("data", {}).get("text/markdown", "") for output in cell.outputs)
        assert "not done yet" in shown, (exercises.check_label(cell), cell.outputs)
