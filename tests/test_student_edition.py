"""The student edition removes every solution, keeps every exercise, and still runs
(`make test` executes it after the book build: `pytest -m student`)."""

from __future__ import annotations

import ast
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
    exercises = sum(cell.source.count("```{exercise}") for cell in original.cells)
    assert exercises >= 3, "every chapter ends with at least three exercises"
    assert text.count("```{exercise}") == exercises
    original_code = [c.source for c in original.cells if c.cell_type == "code"]
    edition_code = [c.source for c in edition.cells if c.cell_type == "code"]
    iterator = iter(original_code)
    assert all(any(source == other for other in iterator) for source in edition_code), \
        "the code cells kept are the original ones, in order"
    removed = [s for s in original_code if s not in edition_code]
    assert removed, "each chapter has solutions with code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_later_cells_never_need_what_a_solution_defined(path):
    original = nbformat.read(path, as_version=4)
    edition = editions.remove_solutions(original)
    kept = {c.source for c in edition.cells if c.cell_type == "code"}
    defined_in_solutions = set()
    for cell in original.cells:
        if cell.cell_type != "code":
            continue
        if cell.source in kept:
            needed = names_used(cell.source) - names_assigned(cell.source)
            assert not needed & defined_in_solutions, f"{path.name} needs {needed & defined_in_solutions}"
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
    edition = editions.edition(executed, solutions=False, citations=citations)
    client = nbclient.NotebookClient(edition, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    code = [cell for cell in edition.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), "a code cell did not run"
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
