"""A check cell fails the chapter when its sentence stops being true: shown once, on purpose.

The chapters back every sentence about a computed result with a hidden *check cell* of plain
``assert condition, "quoted sentence"`` statements (``tests/test_claims.py`` reads them without
running them). This test runs one. It takes three cells of chapter 1, chosen by cell id: the
imports and settings, the exercise on window length (two tones 30 Hz apart seen through
windows of 10, 40 and 160 ms) and the check cell after it, and executes them in one kernel
from the book's folder, as the book build does:

1. unchanged, all three pass;
2. then the exercise cell again with the tones 60 Hz apart instead of 30, and the check
   again. A 40 ms window separates tones 60 Hz apart, so the solution's sentence "The 40 ms
   frame shows one peak in most positions" is no longer true, and the execution must stop
   with a ``CellExecutionError`` quoting that sentence: what a reader of a failed build sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTER = BOOK / "01_audio_features.ipynb"
IMPORTS, COMPUTES, CHECK = "ch01-02", "ch01-32", "ch01-check-resolution"
TONES, WIDER_APART = "low, high = 1000, 1030", "low, high = 1000, 1060"
SENTENCE = "The 40 ms frame shows one peak in most positions"


def test_a_check_passes_on_the_chapter_and_fails_when_its_sentence_becomes_false():
    chapter = json.loads(CHAPTER.read_text())
    cells = {cell["id"]: cell for cell in chapter["cells"]}
    source = "".join(cells[COMPUTES]["source"])
    assert source.count(TONES) == 1, f"{TONES!r} is not once in cell {COMPUTES}"
    changed = {**cells[COMPUTES], "id": f"{COMPUTES}-changed",
               "source": source.replace(TONES, WIDER_APART)}
    check_again = {**cells[CHECK], "id": f"{CHECK}-again"}
    assert f'"{SENTENCE}"' in "".join(cells[CHECK]["source"])
    chapter["cells"] = [cells[IMPORTS], cells[COMPUTES], cells[CHECK], changed, check_again]
    notebook = nbformat.reads(json.dumps(chapter), as_version=4)

    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(BOOK)}})
    with pytest.raises(CellExecutionError) as failure:
        client.execute()

    unchanged, last = notebook.cells[:3], notebook.cells[-1]
    assert all(cell.execution_count for cell in unchanged), "the unchanged cells did not all run"
    assert not [o for cell in unchanged for o in cell.outputs if o.output_type == "error"]
    assert [o.ename for o in last.outputs if o.output_type == "error"] == ["AssertionError"]
    assert SENTENCE in str(failure.value)
