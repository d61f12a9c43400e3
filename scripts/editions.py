"""Write the book's chapters as notebooks for Jupyter, Colab and Binder: two editions.

Both are made from the notebooks the last book build executed
(``_build/jupyter_execute/book/*.ipynb``, with the values they glued), so every number
the prose quotes is the one the book shows:

- the **notebook edition** (``make notebooks``, ``_build/notebooks/book/``): MyST roles
  and directives turned into plain Markdown (``plain_markdown.py``), each figure's caption
  in a Markdown cell under it, each solution's prose folded in a ``<details>`` block under
  its exercise, outputs cleared. The launch buttons
  open it, from the repository's ``notebooks`` branch (``make publish-notebooks``).
- the **student edition** (``make student``, ``_build/student/``): the same without the
  solutions. Solutions are marked in the notebooks with sphinx-exercise's gated
  directives: everything from a ```{solution-start}``` directive to the matching
  ```{solution-end}``` directive, the code cells between them included, is removed;
  a coding exercise's answer cell stays as a starter (``exercises.py``). Cells of the
  book's plumbing (hidden cells that glue values or check the prose's claims) are left
  out; cells carry nbgrader's metadata, so the edition can be handed out and autograded.
- the **instructor edition** (``make instructor``, ``_build/instructor/``): nbgrader's
  source version of the student edition, the solutions of the coding exercises and the
  grading asserts between nbgrader's markers.

Usage: ``python scripts/editions.py {notebook,student,instructor} [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import exercises
import nbformat
from plain_markdown import Citation, Context, exercise_numbers, to_plain_markdown
from plumbing import without_plumbing

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / "_build" / "jupyter_execute" / "book"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"
OUT = {"notebook": ROOT / "_build" / "notebooks" / "book", "student": ROOT / "_build" / "student",
       "instructor": ROOT / "_build" / "instructor"}
START = re.compile(r"```\{solution-start\}[ \t]*(?P<label>[^\s`]*).*?\n```", re.S)
BLANK_LINES = re.compile(r"\n{3,}")
END = re.compile(r"```\{solution-end\}[^\n]*\n```", re.S)


def solution_parts(notebook: nbformat.NotebookNode) -> Iterator[tuple]:
    """Split a notebook at its gated solutions.

    Yields
    ------
    (cell, label, pieces)
        ``label`` names the exercise whose solution the cell starts in (None outside
        solutions). For a Markdown cell ``pieces`` is a list of ``(text, label)``: its text
        cut at the markers (which are dropped), each piece with the solution it belongs to;
        for a code cell it is None.

    Raises
    ------
    ValueError
        A solution that is opened and never closed, or closed without being opened.
    """
    label = None
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            yield cell, label, None
            continue
        start_label, text, pieces = label, cell.source, []
        while True:
            marker = (START if label is None else END).search(text)
            if marker is None:
                if label is None and END.search(text):
                    raise ValueError(f"solution-end without solution-start in cell {cell.get('id')}")
                pieces.append((text, label))
                break
            pieces.append((text[: marker.start()], label))
            label = marker.group("label") if label is None else None
            text = text[marker.end():]
        yield cell, start_label, pieces
    if label is not None:
        raise ValueError("a solution-start has no matching solution-end")


def remove_solutions(notebook: nbformat.NotebookNode, *, instructor: bool = False) -> nbformat.NotebookNode:
    """Return a copy of ``notebook`` with every gated solution removed, except the answer
    cells of coding exercises, which become starters (with ``instructor``: nbgrader's
    source version of them, see ``exercises.py``); check cells get nbgrader's metadata.

    Raises
    ------
    ValueError
        As :func:`solution_parts`.
    """
    cells = []
    for cell, label, pieces in solution_parts(notebook):
        if pieces is None:
            if exercises.answer_label(cell) or exercises.check_label(cell):
                cells.append(exercises.for_students(cell, instructor=instructor))
            elif label is None:
                cells.append(cell)
            continue
        source = "".join(text for text, inside in pieces if inside is None).strip()
        if source:
            cells.append(nbformat.from_dict({**cell, "source": source}))
    return nbformat.from_dict({**notebook, "cells": cells})


def fold_solutions(notebook: nbformat.NotebookNode, numbers: dict[str, int]) -> nbformat.NotebookNode:
    """Return a copy of ``notebook`` with each solution's prose in a ``<details>`` block.

    The block's summary names the exercise ("Solution to Exercise 2", numbered as
    :func:`plain_markdown.exercise_numbers` does; a solution without prose gets the same
    words in bold); the solution's code cells stay as they are.
    """
    cells = []
    for cell, _, pieces in solution_parts(notebook):
        if pieces is not None:
            source = "".join(text if label is None else
                             _folded(text, numbers.get(label, label), opens_solution=index > 0)
                             for index, (text, label) in enumerate(pieces))
            cell = nbformat.from_dict({**cell, "source": BLANK_LINES.sub("\n\n", source).strip()})
        cells.append(cell)
    return nbformat.from_dict({**notebook, "cells": cells})


def _folded(text: str, number, opens_solution: bool) -> str:
    """A solution's prose folded; ``opens_solution`` is False for prose in a later cell."""
    summary = f"Solution to Exercise {number}" + ("" if opens_solution else " (continued)")
    if text.strip():
        return f"\n\n<details>\n<summary><b>{summary}</b></summary>\n\n{text.strip()}\n\n</details>\n\n"
    return f"\n\n**{summary}**\n\n" if opens_solution else ""


def glue_values(executed: Path) -> dict[str, dict[str, str]]:
    """The values an executed notebook glued, by key: ``{"ch1_sr": {"text/plain": "44100"}}``.

    A book build moves them to ``<notebook>.glue.json`` beside the executed notebook (and
    drops the hidden ones from its outputs); a notebook executed by other means keeps them
    in its outputs, marked by myst-nb's ``scrapbook`` metadata. Both are read.
    """
    glued = {}
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            mark = output.get("metadata", {}).get("scrapbook")
            if mark:
                prefix = len(mark.get("mime_prefix", ""))
                glued[mark["name"]] = {mime[prefix:]: value for mime, value in output["data"].items()}
    stored = executed.with_suffix(".glue.json")
    if stored.is_file():
        glued.update({key: output["data"] for key, output in json.loads(stored.read_text()).items()})
    return glued


def read_citations(bibliography: Path) -> dict[str, Citation]:
    """Each reference of a BibTeX file as the book cites it (author-year), by key."""
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    citations = {}
    for key, entry in parse_file(bibliography).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [Text.from_latex(" ".join(person.last_names)).render_as("text") for person in people]
        if len(names) > 2 or "others" in names:
            authors = f"{names[0]} et al."
        elif names:
            authors = " and ".join(names)
        else:  # no person: the organisation or the title stands in
            authors = Text.from_latex(entry.fields.get("organization", entry.fields.get("title", key)))
            authors = authors.render_as("text")
        citations[key] = Citation(authors, entry.fields.get("year", "n.d."))
    return citations


def figure_numbers(paths: list[Path]) -> dict[str, int]:
    """Number the captioned figures of the chapters in order, through the whole book, as Sphinx does.

    A figure is a code cell with a caption in its ``mystnb.figure`` metadata; its name is
    what ``{numref}`` refers to.
    """
    named = [cell.metadata["mystnb"]["figure"].get("name", "")
             for path in paths for cell in nbformat.read(path, as_version=4).cells
             if _caption(cell)]
    return {name: number for number, name in enumerate(named, start=1) if name}


def _caption(cell) -> str:
    return cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption", "")


def edition(executed: Path, *, kind: str, citations: dict[str, Citation],
            figures: dict[str, int] | None = None) -> nbformat.NotebookNode:
    """One chapter's edition, from the notebook the book build executed.

    Parameters
    ----------
    executed : Path
        The executed notebook (its glued values beside it or in its outputs).
    kind : {"notebook", "student", "instructor"}
        The notebook edition (solutions folded), the student edition (solutions removed,
        starters, no plumbing) or the instructor edition (nbgrader's source version).
    citations : dict
        The bibliography, from :func:`read_citations`.
    figures : dict, optional
        The book's figure numbers, from :func:`figure_numbers` (default: this chapter's alone).

    Raises
    ------
    ValueError
        Anything :func:`plain_markdown.to_plain_markdown` cannot convert, naming it.
    """
    notebook = nbformat.read(executed, as_version=4)
    numbers = exercise_numbers([c.source for c in notebook.cells if c.cell_type == "markdown"])
    if kind == "notebook":
        notebook = fold_solutions(notebook, numbers)
    else:
        notebook = without_plumbing(remove_solutions(notebook, instructor=kind == "instructor"))
    figures = figure_numbers([executed]) if figures is None else figures
    context = Context(executed.name, glue_values(executed), citations, numbers, figures,
                      folder=ROOT / "book")
    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type == "markdown":
            cell.source = BLANK_LINES.sub("\n\n", to_plain_markdown(cell.source, context))
            continue
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        if _caption(cell):
            name = cell.metadata["mystnb"]["figure"].get("name", "")
            label = f"Fig. {figures[name]}." if name in figures else "Figure."
            caption = to_plain_markdown(_caption(cell), context)
            cells.append(nbformat.v4.new_markdown_cell(f"**{label}** {caption}"))
    notebook.cells = cells
    notebook.metadata = {key: notebook.metadata[key] for key in ("kernelspec", "language_info")
                         if key in notebook.metadata}
    return notebook


def executed_notebooks(executed_dir: Path, sources: Path) -> list[Path]:
    """The executed notebooks of the last book build, refused when missing or older than their source."""
    paths = sorted(executed_dir.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no executed notebooks in {executed_dir}: run `make book` first")
    stale = [p.name for p in paths if (sources / p.name).is_file()
             and (sources / p.name).stat().st_mtime > p.stat().st_mtime]
    if stale:
        raise FileNotFoundError(f"{', '.join(stale)} changed since the last build: run `make book` first")
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=sorted(OUT), help="which edition to write")
    parser.add_argument("--executed", type=Path, default=EXECUTED, help="the executed notebooks")
    parser.add_argument("--out", type=Path, help="output folder (default: by edition)")
    args = parser.parse_args(argv)
    out = args.out or OUT[args.edition]
    try:
        paths = executed_notebooks(args.executed, ROOT / "book")
        citations = read_citations(BIBLIOGRAPHY)
        figures = figure_numbers(paths)
        editions = [(path, edition(path, kind=args.edition, citations=citations, figures=figures))
                    for path in paths]
    except (FileNotFoundError, ValueError) as error:
        print(f"editions.py: {error}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for path, notebook in editions:
        nbformat.write(notebook, out / path.name)
        print(f"{out / path.name}: {len(notebook.cells)} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
