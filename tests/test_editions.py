"""The notebook and student editions: MyST roles and directives become plain Markdown that
Jupyter, Colab and Binder show well, glued values are pasted as the book formats them, and
anything that cannot be converted is an error naming it."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from myst_nb.ext.glue import extract_glue_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import editions  # noqa: E402
import plain_markdown  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
GLUE_PREFIX = "application/papermill.record/"


def raw_myst(text: str) -> list[str]:
    """The MyST roles and directive fences left in ``text``, code blocks aside."""
    text = re.sub(r"^ {0,3}```(?!\{).*?^ {0,3}```$", "", text, flags=re.M | re.S)
    return re.findall(r"\{[\w:+-]+\}`[^`]*`|^ {0,3}(?:`{3,}|:{3,})\{[\w:+-]+\}.*$", text, re.M)


def glue_output(name: str, text_plain: str, hidden: bool = True) -> nbformat.NotebookNode:
    """An output as ``myst_nb.glue(name, value, display=not hidden)`` leaves it."""
    prefix = GLUE_PREFIX if hidden else ""
    return nbformat.v4.new_output("display_data", data={prefix + "text/plain": text_plain},
                                  metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})


CHAPTER = """\
# A chapter

(chapter-start)=
It ran in {glue:text}`runtime:.0f` s on {glue:text}`clips:,` clips, kept
{glue:text}`share:.1%` of the filters (change {glue:text}`delta:+.1f` points, energy
{glue:text}`energy:.1e` kWh) on devices {glue:text}`devices` and {glue}`shown` as pasted.
As {cite}`singh2022passive,martinmorato2021lowcomplexity` found, and {cite:t}`singh2023efficient`,
{term}`MACs` and {term}`the rank <rank-1 prototype>` matter; see {ref}`the summary <summary>`,
{ref}`ch3-greedy-pass`, {doc}`intro` and {numref}`ex-two`.

:::{admonition} Learning objectives
:class: tip
You can count {glue:text}`clips:,` clips.
:::

```{note}
Cached.
```

```python
print("{glue:text}`untouched`")
```"""

EXERCISES = """\
## Exercises

```{exercise}
:label: ex-one
Count the clips.
```

```{solution-start} ex-one
:class: dropdown
```
There are {glue:text}`clips:,` of them."""

AFTER_SOLUTION = """\
```{solution-end}
```

```{exercise} Harder
:label: ex-two
Count the filters.
```"""


@pytest.fixture
def executed(tmp_path) -> Path:
    """A tiny executed chapter laid out as a book build leaves it (hidden glue in .glue.json)."""
    glue_cell = nbformat.v4.new_code_cell("glue(...)", execution_count=1, outputs=[
        glue_output("runtime", "37.36"), glue_output("clips", "12345"), glue_output("share", "0.25"),
        glue_output("delta", "-1.25"), glue_output("energy", "0.000123"),
        glue_output("devices", "'s4, s5, s6'"), glue_output("shown", "0.5", hidden=False),
        nbformat.v4.new_output("stream", text="a printed line\n"),
    ])
    glue_cell.metadata["execution"] = {"iopub.status.busy": "2026-12-04T12:00:00"}
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(CHAPTER), glue_cell,
        nbformat.v4.new_markdown_cell(EXERCISES), nbformat.v4.new_code_cell("answer = 12345"),
        nbformat.v4.new_markdown_cell(AFTER_SOLUTION),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "widgets": {"state": {}}})
    glued = extract_glue_data(notebook, [0] * len(notebook.cells), logger=None)  # as myst-nb does
    path = tmp_path / "jupyter_execute" / "book" / "01_tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    path.with_suffix(".glue.json").write_text(json.dumps(glued))
    return path


@pytest.fixture(scope="module")
def citations():
    return editions.read_citations(ROOT / "book" / "references.bib")


def markdown(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def test_the_notebook_edition_reads_as_the_book_page(executed, citations):
    edition = editions.edition(executed, kind="notebook", citations=citations)
    chapter, exercise, after = markdown(edition)
    assert "It ran in 37 s on 12,345 clips, kept\n25.0% of the filters (change -1.2 points, energy\n" \
           "1.2e-04 kWh) on devices s4, s5, s6 and 0.5 as pasted." in chapter
    assert ("As (Singh and Plumbley, 2022; Martín-Morató et al., 2021) found, and "
            "Singh and Plumbley (2023),\nMACs and the rank matter; see the summary,\n"
            "ch3 greedy pass, intro and Exercise 2.") in chapter
    assert "(chapter-start)=" not in chapter
    assert "> **Learning objectives**\n>\n> You can count 12,345 clips." in chapter
    assert "> **Note**\n>\n> Cached." in chapter
    assert '```python\nprint("{glue:text}`untouched`")\n```' in chapter, "code blocks are kept as they are"
    assert exercise == ("## Exercises\n\n### Exercise 1\n\nCount the clips.\n\n<details>\n"
                        "<summary><b>Solution to Exercise 1</b></summary>\n\nThere are 12,345 of them.\n\n"
                        "</details>")
    assert after == "### Exercise 2: Harder\n\nCount the filters."
    assert [c.source for c in edition.cells if c.cell_type == "code"] == ["glue(...)", "answer = 12345"]
    assert all(raw_myst(text) == [] for text in [chapter, exercise, after])


def test_the_edition_has_no_outputs_and_no_build_metadata(executed, citations):
    edition = editions.edition(executed, kind="notebook", citations=citations)
    code = [cell for cell in edition.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert "execution" not in code[0].metadata
    assert set(edition.metadata) == {"kernelspec"}
    nbformat.validate(edition)


def test_the_student_edition_is_the_same_without_solutions(executed, citations):
    student = editions.edition(executed, kind="student", citations=citations)
    notebook = editions.edition(executed, kind="notebook", citations=citations)
    assert markdown(student)[0] == markdown(notebook)[0]
    assert markdown(student)[1:] == ["## Exercises\n\n### Exercise 1\n\nCount the clips.",
                                     "### Exercise 2: Harder\n\nCount the filters."]
    assert [c.source for c in student.cells if c.cell_type == "code"] == ["glue(...)"]


def test_a_solution_without_prose_or_over_several_cells_is_still_named():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: a\nA.\n```\n```{solution-start} a\n```"),
        nbformat.v4.new_code_cell("answer_a = 1"),
        nbformat.v4.new_markdown_cell("```{solution-end}\n```\n```{exercise}\n:label: b\nB.\n```\n\n"
                                      "```{solution-start} b\n```"),
        nbformat.v4.new_code_cell("answer_b = 2"),
        nbformat.v4.new_markdown_cell("Why it works.\n```{solution-end}\n```\nAfter."),
    ])
    folded = editions.fold_solutions(notebook, {"a": 1, "b": 2})
    assert [cell.source for cell in folded.cells] == [
        "```{exercise}\n:label: a\nA.\n```\n\n**Solution to Exercise 1**",
        "answer_a = 1",
        "```{exercise}\n:label: b\nB.\n```\n\n**Solution to Exercise 2**",
        "answer_b = 2",
        "<details>\n<summary><b>Solution to Exercise 2 (continued)</b></summary>\n\nWhy it works.\n\n"
        "</details>\n\nAfter.",
    ]


def test_glued_values_are_read_from_the_build_and_from_outputs(executed, tmp_path):
    from_build = editions.glue_values(executed)
    assert from_build["clips"] == {"text/plain": "12345"} and from_build["shown"] == {"text/plain": "0.5"}
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells[1].outputs.append(glue_output("late", "7"))
    elsewhere = tmp_path / "nbclient.ipynb"  # executed by nbclient: no .glue.json beside it
    nbformat.write(notebook, elsewhere)
    assert editions.glue_values(elsewhere) == {"shown": {"text/plain": "0.5"}, "late": {"text/plain": "7"}}


def test_a_missing_glue_key_is_named(executed, citations):
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells[0].source += "\nAnd {glue:text}`nokey:.2f` more."
    nbformat.write(notebook, executed)
    with pytest.raises(ValueError, match=r"01_tiny.ipynb: .*glue key 'nokey'.*no code cell"):
        editions.edition(executed, kind="notebook", citations=citations)


@pytest.mark.parametrize("text, message", [
    ("```{figure} a.png\nA figure.\n```", r"directive \{figure\}"),
    ("Press {kbd}`Ctrl`.", r"role \{kbd\}"),
    (":::{note}\nNever closed.", "never closed"),
    ("See {cite}`nobody2020`.", "no reference nobody2020"),
    ("See {numref}`fig-one`.", "'fig-one', which is neither an exercise nor a figure"),
    ("```{literalinclude} nowhere.py\n```", "nowhere.py, which does not exist"),
    ("```{exercise}\nNo label.\n```", "every exercise needs a :label:"),
])
def test_what_has_no_plain_form_is_refused_by_name(text, message, citations):
    context = plain_markdown.Context("tiny.ipynb", citations=citations)
    with pytest.raises(ValueError, match=message):
        plain_markdown.to_plain_markdown(text, context)


def test_nested_fences_and_explicit_titles():
    context = plain_markdown.Context("tiny.ipynb", exercises={"ex": 3})
    text = "::::{admonition} Outer\n:::{tip}\nInner {numref}`Task %s <ex>`.\n:::\n```python\nx = 1\n```\n::::"
    assert plain_markdown.to_plain_markdown(text, context) == (
        "> **Outer**\n>\n> > **Tip**\n> >\n> > Inner Task 3.\n>\n> ```python\n> x = 1\n> ```")


def test_code_is_included_from_its_one_source(tmp_path):
    (tmp_path / "module.py").write_text("import x\n\n\n@decorated\ndef chosen(a):\n    return a\n\n\n"
                                        "def other():\n    pass\n")
    context = plain_markdown.Context("tiny.ipynb", folder=tmp_path)
    text = "Before.\n\n```{literalinclude} module.py\n:pyobject: chosen\n:language: python\n```\nAfter."
    assert plain_markdown.to_plain_markdown(text, context) == (
        "Before.\n\n\n```python\n@decorated\ndef chosen(a):\n    return a\n```\n\nAfter.")
    with pytest.raises(ValueError, match="'absent', which module.py does not define"):
        plain_markdown.to_plain_markdown("```{literalinclude} module.py\n:pyobject: absent\n```", context)


def test_figures_are_numbered_through_the_book_and_captioned_under_them(tmp_path, citations):
    paths = []
    for number, names in ((1, ["fig-a", "fig-b"]), (2, ["fig-c"])):
        cells = [nbformat.v4.new_markdown_cell(f"See {{numref}}`{names[-1]}`.")]
        for name in names:
            cell = nbformat.v4.new_code_cell("plot()")
            cell.metadata["mystnb"] = {"figure": {"caption": f"The {name} {{term}}`curve`.", "name": name}}
            cells.append(cell)
        path = tmp_path / f"0{number}_chapter.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
        paths.append(path)
    figures = editions.figure_numbers(paths)
    assert figures == {"fig-a": 1, "fig-b": 2, "fig-c": 3}
    second = editions.edition(paths[1], kind="notebook", citations=citations, figures=figures)
    assert [c.source for c in second.cells] == ["See Fig. 3.", "plot()", "**Fig. 3.** The fig-c curve."]


def test_citations_fall_back_to_the_title_and_no_year(tmp_path, citations):
    expected = plain_markdown.Citation("Martín-Morató et al.", "2021")
    assert citations["martinmorato2021lowcomplexity"] == expected
    assert citations["codecarbon"].authors == "Courty et al."  # "and others" counts as many
    bib = tmp_path / "refs.bib"
    bib.write_text("@misc{tool, title = {{CodeCarbon}: a tool}}\n"
                   "@misc{one, author = {Piczak, Karol J.}, year = {2015}}")
    assert editions.read_citations(bib) == {"tool": plain_markdown.Citation("CodeCarbon: a tool", "n.d."),
                                            "one": plain_markdown.Citation("Piczak", "2015")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_converts_to_plain_markdown(path, citations):
    """Every role and directive the chapters use has a plain form (glued values stood in for)."""
    notebook = nbformat.read(path, as_version=4)
    sources = markdown(notebook)
    stand_in = {key: {"text/plain": "1"} for key in re.findall(r"\{glue:text\}`([^`:]+)", "\n".join(sources))}
    context = plain_markdown.Context(path.name, stand_in, citations, plain_markdown.exercise_numbers(sources),
                                     editions.figure_numbers([path]), folder=ROOT / "book")
    folded = editions.fold_solutions(notebook, context.exercises)
    converted = [plain_markdown.to_plain_markdown(text, context) for text in markdown(folded)]
    assert raw_myst("\n".join(sources)), "the chapter is written in MyST"
    assert not [leftover for text in converted for leftover in raw_myst(text)]
    assert sum(text.count("### Exercise ") for text in converted) == len(context.exercises)


def test_the_editions_are_refused_without_a_fresh_build(executed, tmp_path, capsys):
    sources = tmp_path / "book"
    sources.mkdir()
    assert editions.executed_notebooks(executed.parent, sources) == [executed]
    (sources / executed.name).write_text("{}")
    os.utime(executed, (1, 1))  # the source changed after the build
    with pytest.raises(FileNotFoundError, match="01_tiny.ipynb changed since the last build: run `make"):
        editions.executed_notebooks(executed.parent, sources)
    arguments = ["student", "--executed", str(tmp_path / "none"), "--out", str(tmp_path / "out")]
    assert editions.main(arguments) == 1
    assert "run `make book` first" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_plumbing_is_left_out_of_the_student_edition_but_what_later_cells_need_stays():
    from plumbing import without_plumbing

    code = nbformat.v4.new_code_cell
    hidden = {"tags": ["remove-cell", "claim-check"]}
    notebook = nbformat.v4.new_notebook(cells=[
        code("import numpy as np\nfrom myst_nb import glue"),
        code("glue('a', 1, display=False)\nassert 1 == 1, 'one is one'", metadata=hidden),
        code("bins = np.arange(3)\nfor k in range(2):\n    glue(f'b{k}', k, display=False)\n"
             "assert bins.size == 3, 'three bins'", metadata=hidden),
        code("unused = 5\nglue('c', unused, display=False)", metadata=hidden),
        code("print(bins)"),
    ])
    sources = [cell.source for cell in without_plumbing(notebook).cells]
    assert sources == ["import numpy as np", "bins = np.arange(3)", "print(bins)"]
