"""Turn the book's MyST Markdown into plain Markdown that Jupyter, Colab and Binder show well.

Jupyter Book renders roles (``{glue:text}`key:.1f```, ``{cite}`key```, ``{term}`...```) and
directives (``{exercise}``, ``:::{admonition}``) that a notebook interface shows as raw
text. :func:`to_plain_markdown` replaces each by what the book's page shows, as far as
Markdown can: a glued value formatted as its role asks, a citation as author-year text, a
cross-reference as its text, an admonition as a bold title over a block quote, an exercise
as a heading, a ``literalinclude`` as the code it includes. Fenced code blocks are left alone. A role or directive with no plain form
here, or a glue key the notebook never glued, is an error naming it: the conversion never
leaves raw MyST behind silently.

Called by ``scripts/editions.py``; runs in the book's environment (it reads glued values with
myst-nb's own formatting).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from myst_nb.core.variables import format_plain_text

ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:+-]*)\}`(?P<content>[^`]*)`")
FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:+-]+)\}\s*(?P<argument>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
EXPLICIT_TITLE = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
# MyST-only lines: targets such as (my-label)= and % comments
MYST_ONLY_LINE = re.compile(r"^(\([\w.:-]+\)=|%.*)$")
# an exercise directive's opening line, its options before :label:, and the label
EXERCISE = re.compile(r"^ {0,3}(`{3,}|:{3,})\{exercise\}.*\n"
                      r"(?:\s*:(?!label:)[\w-]+:.*\n)*\s*:label:\s*(\S+)", re.M)
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso"}


@dataclass
class Citation:
    """One reference of the bibliography as the book cites it: ``Singh and Plumbley, 2022``."""

    authors: str
    year: str


@dataclass
class Context:
    """What the roles of one notebook refer to.

    Attributes
    ----------
    source : str
        The notebook's name, for error messages.
    glue : mapping of str to mapping of str to str
        Each glued key's MIME bundle (``{"text/plain": "0.25"}``), as myst-nb stores it.
    citations : mapping of str to Citation
        The bibliography, by key.
    exercises : mapping of str to int
        Each exercise label's number in the notebook (1, 2, ...), see :func:`exercise_numbers`.
    figures : mapping of str to int
        Each figure name's number in the book (figures are numbered through the whole book).
    folder : Path
        The folder of the notebook's source, against which included files are found.
    """

    source: str
    glue: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    citations: Mapping[str, Citation] = field(default_factory=dict)
    exercises: Mapping[str, int] = field(default_factory=dict)
    figures: Mapping[str, int] = field(default_factory=dict)
    folder: Path = Path(".")


def exercise_numbers(markdown: list[str]) -> dict[str, int]:
    """Number the labelled exercises of a notebook in order: ``{"ch1-gain": 2, ...}``.

    Parameters
    ----------
    markdown : list of str
        The notebook's Markdown cells, in order.
    """
    labels = [match.group(2) for text in markdown for match in EXERCISE.finditer(text)]
    return {label: number for number, label in enumerate(labels, start=1)}


def to_plain_markdown(text: str, context: Context) -> str:
    """Return ``text`` (MyST Markdown) as plain Markdown; see the module docstring.

    Raises
    ------
    ValueError
        A role or directive with no plain form, an unknown glue key or citation, an
        exercise label that is not numbered, or a directive that is never closed.
    """
    lines, out, prose = text.split("\n"), [], []
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if fence is None:
            if not MYST_ONLY_LINE.match(line.strip()):
                prose.append(line)
            index += 1
            continue
        if prose:
            out.append(_roles("\n".join(prose), context))
        prose = []
        end = _closing_fence(lines, index, fence.group("fence"), context)
        directive = DIRECTIVE.match(fence.group("info").strip())
        if directive is None:  # a code block: kept as it is
            out.append("\n".join(lines[index:end + 1]))
        else:
            out.append(_directive(directive.group("name"), directive.group("argument"),
                                  lines[index + 1:end], context))
        index = end + 1
    out.append(_roles("\n".join(prose), context))
    return "\n".join(out).strip("\n")


def _closing_fence(lines: list[str], start: int, fence: str, context: Context) -> int:
    """The index of the line that closes the fence opened at ``lines[start]``.

    A fence line with an info string (```` ```python ````, ``:::{note}``) opens a nested
    block; a bare one (```` ``` ````, ``:::``) at least as long as its opener closes it.
    """
    depth = 0
    for index in range(start + 1, len(lines)):
        match = FENCE.match(lines[index])
        if match is None or match.group("fence")[0] != fence[0]:
            continue
        if match.group("info").strip():
            depth += 1
        elif depth:
            depth -= 1
        elif len(match.group("fence")) >= len(fence):
            return index
    raise ValueError(f"{context.source}: the block opened by {lines[start].strip()!r} is never closed")


def _directive(name: str, argument: str, body: list[str], context: Context) -> str:
    options = {}
    while body and OPTION.match(body[0].strip()):
        option = OPTION.match(body[0].strip())
        options[option.group("key")] = option.group("value")
        body = body[1:]
    content = to_plain_markdown("\n".join(body), context)
    if name == "admonition" or name in ADMONITIONS:
        title = argument if name == "admonition" else name.capitalize()
        if name != "admonition" and argument:
            content = f"{argument}\n{content}"
        quoted = "\n".join(f"> {line}".rstrip() for line in content.split("\n"))
        return f"\n> **{title}**\n>\n{quoted}\n"
    if name == "exercise":
        label = options.get("label")
        if label not in context.exercises:
            raise ValueError(f"{context.source}: exercise {label!r} is not numbered "
                             "(every exercise needs a :label:)")
        title = f": {argument}" if argument else ""
        return f"\n### Exercise {context.exercises[label]}{title}\n\n{content}\n"
    if name == "dropdown":
        return f"\n<details>\n<summary>{argument}</summary>\n\n{content}\n\n</details>\n"
    if name == "math":
        return f"\n$$\n{content}\n$$\n"
    if name == "literalinclude":
        code = _included(context.folder / argument, options.get("pyobject"), context)
        return f"\n```{options.get('language', 'python')}\n{code}\n```\n"
    raise ValueError(f"{context.source}: the MyST directive {{{name}}} has no plain-Markdown form here")


def _roles(text: str, context: Context) -> str:
    return ROLE.sub(lambda match: _role(match.group("name"), match.group("content"), context), text)


def _role(name: str, content: str, context: Context) -> str:
    if name.startswith("glue"):
        return _glued(name, content, context)
    if name.startswith("cite"):
        return _cite(name, content, context)
    explicit = EXPLICIT_TITLE.match(content)
    title, target = (explicit.group("title"), explicit.group("target")) if explicit else ("", content)
    if name == "term":
        return title or target
    if name in ("ref", "doc"):  # the page shows the section's or page's title, unknown here
        return title or target.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ")
    if name == "numref":
        if target in context.figures:  # Sphinx's default numref format for figures
            return (title or "Fig. %s").replace("%s", str(context.figures[target]))
        if target not in context.exercises:
            raise ValueError(f"{context.source}: {{numref}} to {target!r}, which is neither an "
                             "exercise nor a figure")
        return (title or "Exercise %s").replace("%s", str(context.exercises[target]))
    if name == "eq":
        return f"({target})"
    if name == "math":
        return f"${content}$"
    raise ValueError(f"{context.source}: the MyST role {{{name}}} has no plain-Markdown form here")


def _included(path: Path, pyobject: str | None, context: Context) -> str:
    """The text of ``path``, or only the function or class ``pyobject`` (with its decorators)."""
    if not path.is_file():
        raise ValueError(f"{context.source}: literalinclude of {path}, which does not exist")
    text = path.read_text()
    if pyobject is None:
        return text.rstrip("\n")
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == pyobject:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.split("\n")[first - 1:node.end_lineno])
    raise ValueError(f"{context.source}: literalinclude of {pyobject!r}, which {path.name} does not define")


def _glued(name: str, content: str, context: Context) -> str:
    """A glued value as myst-nb pastes it: ``{glue:text}`` formats text/plain with its spec."""
    key, spec = content.rsplit(":", 1) if name == "glue:text" and ":" in content else (content, "s")
    if key not in context.glue:
        raise ValueError(f"{context.source}: {{{name}}}`{content}` names the glue key {key!r}, "
                         "which no code cell of the executed notebook glued")
    bundle = context.glue[key]
    if name == "glue:md":
        return bundle["text/markdown"]
    if name == "glue:text":
        return format_plain_text(bundle["text/plain"], spec)
    if name in ("glue", "glue:", "glue:any"):
        return bundle["text/plain"]
    raise ValueError(f"{context.source}: the MyST role {{{name}}} has no plain-Markdown form here")


def _cite(name: str, content: str, context: Context) -> str:
    """``(Singh and Plumbley, 2022; ...)``, or ``Singh and Plumbley (2022)`` for ``{cite:t}``."""
    keys = [key.strip() for key in content.split(",") if key.strip()]
    missing = [key for key in keys if key not in context.citations]
    if missing:
        raise ValueError(f"{context.source}: no reference {', '.join(missing)} in the bibliography")
    cited = [context.citations[key] for key in keys]
    if name in ("cite:t", "cite:ts"):
        return "; ".join(f"{c.authors} ({c.year})" for c in cited)
    return "(" + "; ".join(f"{c.authors}, {c.year}" for c in cited) + ")"
