"""The book's plumbing, left out of the student and instructor editions.

The book's hidden cells (tag ``remove-cell``) glue computed values into the prose
(``glue(...)``) and check its claims (``assert``). In a notebook a student works through
they are noise, and the values they glue are already pasted into the Markdown. So each
hidden cell loses those statements (and loops of nothing else); what is left stays only if
a later cell uses a name it defines. Once no cell calls ``glue``, its import goes too.
"""

from __future__ import annotations

import ast

import nbformat

GLUE_IMPORT = "from myst_nb import glue"


def _is_plumbing(statement: ast.stmt) -> bool:
    """An ``assert``, a ``glue(...)`` call, or a loop or branch holding nothing else."""
    if isinstance(statement, ast.Assert):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        return getattr(statement.value.func, "id", None) == "glue"
    if isinstance(statement, (ast.For, ast.If)):
        return all(_is_plumbing(inner) for inner in [*statement.body, *statement.orelse])
    return False


def _strip(source: str) -> str | None:
    """``source`` without its plumbing statements; None if nothing else is left.

    A cell Python cannot parse (an IPython magic) is returned unchanged.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines()
    kept = ["\n".join(lines[s.lineno - 1: s.end_lineno]) for s in tree.body if not _is_plumbing(s)]
    return "\n".join(kept) if kept else None


def _names(source: str) -> tuple[set[str], set[str]]:
    """``(assigned, used)``: the names ``source`` binds and the names it reads."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    assigned, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (assigned if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            assigned.add(node.name)
        elif isinstance(node, ast.alias):
            assigned.add((node.asname or node.name).split(".")[0])
    return assigned, used


def without_plumbing(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` without the book's plumbing (see the module's docstring)."""
    needed: set[str] = set()
    cells = []
    for cell in reversed(notebook.cells):
        if cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", []):
            source = _strip(cell.source)
            if source is None:
                continue
            assigned, used = _names(source)
            if not assigned & needed:
                continue
            cell = nbformat.from_dict({**cell, "source": source})
        elif cell.cell_type == "code":
            used = _names(cell.source)[1]
        else:
            used = set()
        needed |= used
        cells.append(cell)
    cells.reverse()
    if "glue" not in needed:
        for cell in cells:
            if cell.cell_type == "code" and GLUE_IMPORT in cell.source.splitlines():
                cell.source = "\n".join(line for line in cell.source.splitlines() if line != GLUE_IMPORT)
    return nbformat.from_dict({**notebook, "cells": cells})
