"""Write the student edition of the book's notebooks: the same notebooks without solutions.

Solutions are marked in the notebooks with sphinx-exercise's gated directives: everything
from a ```{solution-start}``` directive to the matching ```{solution-end}``` directive,
the code cells between them included, is removed. Nothing else changes.

Usage: ``python scripts/student_edition.py [--out _build/student]`` (``make student``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

START = re.compile(r"```\{solution-start\}.*?\n```", re.S)
END = re.compile(r"```\{solution-end\}[^\n]*\n```", re.S)


def remove_solutions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy of ``notebook`` with every gated solution removed.

    Raises
    ------
    ValueError
        A solution that is opened and never closed, or closed without being opened.
    """
    kept = []
    inside = False
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            if not inside:
                kept.append(cell)
            continue
        text, pieces = cell.source, []
        while text:
            marker = (END if inside else START).search(text)
            if marker is None:
                if not inside:
                    if END.search(text):
                        raise ValueError(f"solution-end without solution-start in cell {cell.get('id')}")
                    pieces.append(text)
                break
            if not inside:
                pieces.append(text[: marker.start()])
            inside = not inside
            text = text[marker.end():]
        source = "".join(pieces).strip()
        if source:
            kept.append(nbformat.from_dict({**cell, "source": source}))
    if inside:
        raise ValueError("a solution-start has no matching solution-end")
    return nbformat.from_dict({**notebook, "cells": kept})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=Path("book"), help="folder of the notebooks")
    parser.add_argument("--out", type=Path, default=Path("_build/student"), help="output folder")
    args = parser.parse_args(argv)
    notebooks = sorted(args.book.glob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks in {args.book}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        edition = remove_solutions(nbformat.read(path, as_version=4))
        nbformat.write(edition, args.out / path.name)
        print(f"{args.out / path.name}: {len(edition.cells)} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
