"""The coding exercises under nbgrader: the instructor edition is a valid nbgrader source,
nbgrader's release of it is the student edition, and nbgrader's own autograde gives the
solutions full marks and the untouched student edition zero.

A tiny notebook shows it in the unit tests; a whole chapter (executed by the book build)
goes through the same steps with ``pytest -m student`` (``make test`` runs both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import editions  # noqa: E402
import exercises  # noqa: E402
from plumbing import without_plumbing  # noqa: E402

pytest.importorskip("nbgrader", reason="nbgrader comes with the instructor extra")

AUTOGRADED_CHAPTER = "03_cosine_pruning.ipynb"
"""The chapter autograded end to end in CI: its coding exercises are the method's core."""


def nbgrader(course: Path, *argv: str, timeout: float = 1800) -> None:
    """Run nbgrader's command line in ``course`` (its tools, such as alembic, on the PATH)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *argv], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def grade(course: Path, instructor: nbformat.NotebookNode, name: str) -> dict:
    """Release ``instructor`` with nbgrader, autograde its solution and its release.

    Returns
    -------
    dict
        ``release`` (the notebook nbgrader hands out) and, for the submissions
        ``"solution"`` and ``"untouched"``, ``(score, max_score)``.
    """
    source = course / "source" / "lab"
    source.mkdir(parents=True, exist_ok=True)
    nbformat.write(instructor, source / name)
    (course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "audioprune"\n'
                                             'c.Execute.timeout = 900\n')
    nbgrader(course, "generate_assignment", "lab", "--force")
    release = course / "release" / "lab" / name
    for student, notebook in (("solution", source / name), ("untouched", release)):
        (course / "submitted" / student / "lab").mkdir(parents=True)
        shutil.copy(notebook, course / "submitted" / student / "lab" / name)
    nbgrader(course, "autograde", "lab", "--create", "--force")
    from nbgrader.api import Gradebook

    scores = {"release": nbformat.read(release, as_version=4)}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("solution", "untouched"):
            submission = gradebook.find_submission("lab", student)
            scores[student] = (submission.score, submission.max_score)
    return scores


def code_cells(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def tiny_chapter() -> nbformat.NotebookNode:
    """A chapter with one thinking exercise, one coding exercise and a hidden claim check."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        md("# A lab"),
        code("from myst_nb import glue\n\nfrom audioprune_lite.checks import Case, run_cases"),
        code("n = 3\nglue('n', n, display=False)\nassert n == 3, 'three of them'",
             metadata={"tags": ["remove-cell", "claim-check"]}),
        md("```{exercise} Why\n:label: lab-why\nWhy?\n```\n\n```{solution-start} lab-why\n:class: dropdown\n```\n"
           "Because.\n\n```{solution-end}\n```"),
        md("```{exercise} Double\n:label: lab-double\nWrite `double(x)`.\n```\n\n"
           "```{solution-start} lab-double\n:class: dropdown\n```"),
        code('import math\n\n\ndef double(x):\n    """Twice ``x``.\n\n    Parameters\n    ----------\n'
             '    x : float\n    """\n    twice = 2 * x\n    return math.copysign(abs(twice), twice)',
             metadata={"audioprune": {"answer": "lab-double"}}),
        md("Multiply.\n\n```{solution-end}\n```"),
        code('run_cases("doubling", double, [Case("one", (1.0,), 2.0), Case("zero", (0.0,), 0.0)])',
             metadata={"audioprune": {"check": "lab-double", "points": 3}}),
    ])


def test_the_student_edition_is_nbgraders_release_and_autograde_scores_it(tmp_path):
    chapter = tiny_chapter()
    student = without_plumbing(editions.remove_solutions(chapter))
    instructor = without_plumbing(editions.remove_solutions(chapter, instructor=True))
    assert code_cells(student) == [
        "from audioprune_lite.checks import Case, run_cases",  # glue and its plumbing gone
        'import math\n\n\ndef double(x):\n    """Twice ``x``.\n\n    Parameters\n    ----------\n'
        '    x : float\n    """\n    # YOUR CODE HERE\n    raise NotImplementedError()',
        'run_cases("doubling", double, [Case("one", (1.0,), 2.0), Case("zero", (0.0,), 0.0)])']
    scores = grade(tmp_path / "course", instructor, "lab.ipynb")
    assert code_cells(scores["release"]) == code_cells(student)
    assert scores["solution"] == (3.0, 3.0) and scores["untouched"] == (0.0, 3.0)


@pytest.mark.parametrize("source, problem", [
    ("def f(x):\n    return x", "needs a docstring and a body"),
    ('def f(x):\n    """Doc."""', "needs a docstring and a body"),
    ('def f(x):\n    """Doc."""\n    return x\n\nprint(1)', "must end with its one function"),
    ('def f(x):\n    """Doc."""\n    return x\n\ndef g():\n    """Doc."""\n    return 1',
     "must end with its one function"),
])
def test_an_answer_cell_that_cannot_become_a_starter_is_named(source, problem):
    with pytest.raises(ValueError, match=f"lab-x {problem}|of lab-x {problem}"):
        exercises.starter(source, "lab-x")


@pytest.mark.student
def test_a_whole_chapter_autogrades_full_marks_and_zero(tmp_path):
    """Run by `make test` after the book build, whose cache serves data and models."""
    executed = editions.EXECUTED / AUTOGRADED_CHAPTER
    if not executed.is_file():
        pytest.fail(f"no {executed}: run `make book` first")
    citations = editions.read_citations(editions.BIBLIOGRAPHY)
    student = editions.edition(executed, kind="student", citations=citations)
    instructor = editions.edition(executed, kind="instructor", citations=citations)
    points = sum(cell.metadata["nbgrader"].get("points", 0) for cell in instructor.cells
                 if cell.metadata.get("nbgrader", {}).get("grade"))
    assert points >= 4, "at least two checked coding exercises"
    scores = grade(tmp_path / "course", instructor, AUTOGRADED_CHAPTER)
    assert code_cells(scores["release"]) == code_cells(student)
    assert scores["solution"] == (points, points) and scores["untouched"] == (0.0, points)
