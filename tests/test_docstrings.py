"""The package's docstrings point at the chapters that really use it, and at nothing outside the repository.

A docstring may say which chapters use a function ("Used by: Chapters 2 to 5 and the command
line."). Such a pointer helps a student read the package next to the book only while it is
true, so this test holds every one against the chapters' code cells.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "audioprune_lite"
CHAPTERS = {int(path.name[:2]): path for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))}
IMPORT_LINE = re.compile(r"^\s*(from\s+\S+\s+)?import\s.*$|^\s+[\w, ]+,?\s*$|^\s*\)\s*$", re.M)


def chapter_code(number: int) -> str:
    """The code of a chapter's cells, import statements left out."""
    cells = json.loads(CHAPTERS[number].read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return IMPORT_LINE.sub("", code)


def chapters_named(text: str) -> set[int]:
    """Chapter numbers a "Used by" paragraph names: "Chapter 2", "Chapters 2 to 5",
    "Chapters 1, 3 and 6", "every chapter"."""
    named = set()
    if re.search(r"\bevery chapter\b", text):
        named.update(CHAPTERS)
    for first, last in re.findall(r"Chapters (\d+) to (\d+)", text):
        named.update(range(int(first), int(last) + 1))
    for listing in re.findall(r"Chapters? ((?:\d+, )*\d+(?: and \d+)?)(?! to)", text):
        named.update(int(n) for n in re.findall(r"\d+", listing))
    return named


def used_by_paragraphs():
    """(module path, name, paragraph) for every docstring that has a "Used by" paragraph."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                continue
            doc = ast.get_docstring(node) or ""
            match = re.search(r"Used by:?(.*?)(?:\n\s*\n|$)", doc, re.S)
            if match:
                if isinstance(node, ast.Module):  # a package is named by its folder
                    name = path.parent.name if path.stem == "__init__" else path.stem
                else:
                    name = node.name
                yield path.relative_to(ROOT).as_posix(), name, " ".join(match.group(1).split())


PARAGRAPHS = list(used_by_paragraphs())


def test_the_package_has_pointers_to_check():
    assert len(PARAGRAPHS) >= 20


@pytest.mark.parametrize(("module", "name", "paragraph"), PARAGRAPHS,
                         ids=[f"{m}:{n}" for m, n, _ in PARAGRAPHS])
def test_every_chapter_a_docstring_names_uses_it(module, name, paragraph):
    vague = re.search(r"onwards|later chapters?|every later|the later", paragraph)
    assert not vague, f"{module}:{name}: name the chapters instead of {vague.group()!r}: {paragraph!r}"
    named = chapters_named(paragraph)
    unknown = named - set(CHAPTERS)
    assert not unknown, f"{module}:{name} names chapters that do not exist: {sorted(unknown)}"
    if name in (Path(module).stem, Path(module).parent.name):  # a module's pointer: the chapter imports it
        pattern = re.compile(rf"audioprune_lite(\.\w+)*\.{name}\b|from audioprune_lite(\.\w+)* import .*\b{name}\b")
        missing = [n for n in sorted(named) if not pattern.search(CHAPTERS[n].read_text())]
    else:
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        missing = [n for n in sorted(named) if not pattern.search(chapter_code(n))]
    assert not missing, (f"{module}:{name} says it is used by chapter(s) {missing}, "
                         f"whose code never uses it: {paragraph!r}")


def test_the_command_line_uses_what_says_it_does():
    cli_code = "".join(path.read_text() for path in (PACKAGE / "cli.py", PACKAGE / "reproduce.py"))
    claims = [(m, n) for m, n, p in PARAGRAPHS if "command line" in p and not m.endswith("cli.py")]
    wrong = [f"{m}:{n}" for m, n in claims if not re.search(rf"\b{re.escape(n)}\b", cli_code)]
    assert not wrong, f"these say the command line uses them, but it does not: {wrong}"


def test_no_docstring_cites_files_outside_the_repository():
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"),
               *(ROOT / "data_scripts").glob("*.py"), *(ROOT / "scripts").glob("*.py")]
    outside = [path.relative_to(ROOT).as_posix() for path in sources
               if re.search(r"\b(PAPER|DESIGN)\.md\b", path.read_text())]
    assert not outside, f"these cite briefs that are not in the repository: {outside}"
