"""Every sentence about a computed result is checked, and the checks quote the prose.

A chapter backs each claim about its outputs with a *check cell*: a code cell tagged
``claim-check`` and ``remove-cell`` (executed with the chapter, hidden from the page),
holding plain ``assert condition, "quoted sentence"`` statements. When an output stops
supporting a sentence, the chapter's execution fails, so the book build fails.

These tests read the notebooks without executing them: each check's message must quote
the chapter's prose word for word (so a sentence cannot be edited without its check, nor a
check drift from its sentence), every chapter must have at least its listed number of
checks, and the plumbing (``glue``) must be hidden from the page.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import editions  # noqa: E402
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))

MIN_WORDS = 6
"""A quote shorter than this is too vague to identify the sentence it checks."""

MIN_CHECKS = {
    "01_audio_features": 36,
    "02_train_cnn": 29,
    "03_cosine_pruning": 40,
    "04_surgery_and_speed": 48,
    "05_finetune_fewer_examples": 40,
    "06_co2_estimation": 34,
    "07_reproduce": 19,
    "08_real_recordings": 9,
    "09_deploy": 27,
}
"""Checked claims each chapter must have at least (the count the chapter had when its
sentences were last reviewed against its outputs)."""


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def normalised(text: str) -> str:
    return " ".join(text.split())


def prose(notebook: Path) -> str:
    """All Markdown of a chapter, whitespace collapsed (exercise solutions included)."""
    return normalised(" ".join("".join(c["source"]) for c in cells(notebook)
                               if c["cell_type"] == "markdown"))


def check_cells(notebook: Path) -> list[dict]:
    return [c for c in cells(notebook) if c["cell_type"] == "code" and "claim-check" in tags(c)]


def claims(notebook: Path) -> list[tuple[str, ast.Assert]]:
    """Every ``assert`` of every check cell, with the id of its cell."""
    found = []
    for cell in check_cells(notebook):
        tree = ast.parse("".join(cell["source"]))
        found += [(cell.get("id", "?"), node) for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    return found


def test_the_book_has_chapters():
    assert len(CHAPTERS) >= 8
    assert {c.stem for c in CHAPTERS} == set(MIN_CHECKS)


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_check_cells_are_hidden_and_hold_only_quoted_asserts(notebook):
    for cell in check_cells(notebook):
        assert "remove-cell" in tags(cell), f"{notebook.stem}: check cell {cell.get('id')} is not hidden (remove-cell)"
    for cell_id, node in claims(notebook):
        message = node.msg
        assert isinstance(message, ast.Constant) and isinstance(message.value, str), (
            f"{notebook.stem}, cell {cell_id}, line {node.lineno}: the assert's message must be a "
            f"plain string that quotes the sentence it checks")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_check_quotes_its_chapter_word_for_word(notebook):
    text = prose(notebook)
    for cell_id, node in claims(notebook):
        if not isinstance(node.msg, ast.Constant):
            continue  # reported by the test above
        quote = normalised(node.msg.value)
        assert len(quote.split()) >= MIN_WORDS, (
            f"{notebook.stem}, cell {cell_id}: quote a whole sentence, not {quote!r}")
        assert quote in text, (f"{notebook.stem}, cell {cell_id}: the check quotes a sentence that "
                               f"the chapter's prose does not contain: {quote!r}")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_checks_of_a_solution_are_cut_with_it_from_the_student_edition(notebook):
    """A check outside every solution stays in the student edition: it may only quote the
    chapter's main text, never a solution it would give away (or whose variables it needs)."""
    main_text, outside = [], []
    for cell, label, pieces in editions.solution_parts(nbformat.read(notebook, as_version=4)):
        if pieces is not None:
            main_text += [text for text, piece_label in pieces if piece_label is None]
        elif label is None and "claim-check" in cell.metadata.get("tags", []):
            outside.append(cell)
    text = normalised(" ".join(main_text))
    for cell in outside:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assert) and isinstance(node.msg, ast.Constant):
                assert normalised(node.msg.value) in text, (
                    f"{notebook.stem}, cell {cell.get('id')}: checks a solution's sentence from outside "
                    f"the solution; move the check inside it: {node.msg.value!r}")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_checks_its_claims(notebook):
    count = len(claims(notebook))
    assert count >= max(1, MIN_CHECKS.get(notebook.stem, 1)), (
        f"{notebook.stem} checks {count} claims, at least {MIN_CHECKS.get(notebook.stem, 1)} expected")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_glue_plumbing_is_hidden_from_the_page(notebook):
    visible = [c.get("id") for c in cells(notebook) if c["cell_type"] == "code"
               and re.search(r"\bglue\(", "".join(c["source"])) and "remove-cell" not in tags(c)]
    assert not visible, f"{notebook.stem}: cells {visible} call glue() on the page; move it to a hidden cell"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_is_captioned(notebook):
    missing = []
    for cell in cells(notebook):
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        if "image" in mystnb and not mystnb.get("figure", {}).get("caption"):
            missing.append(cell.get("id"))
    assert not missing, f"{notebook.stem}: figure cells {missing} have alt text but no numbered caption"
