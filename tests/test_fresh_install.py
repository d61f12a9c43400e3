"""A fresh virtual environment, as a new user or Colab has it: `pip install .` without extras
runs the command line, and chapter 1 of the notebook edition runs with only what its install
cell installs (from this checkout, since CI cannot reach the repository host).

Run by `make test` after the book build (`pytest -m fresh`): the edition is made from the
build's executed chapter, and the data set comes from its cache (``$AUDIOPRUNE_HOME``).
pip's cache, filled by the main install, keeps the installs short.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

from audioprune_lite.models import DCASE21Baseline
from audioprune_lite.train import load_model, save_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import editions  # noqa: E402
from test_editions import raw_myst  # noqa: E402

pytestmark = pytest.mark.fresh
# What the build, the tests and the environment leave in the checkout (a clone lacks them).
NOT_IN_A_CLONE = {".git", ".venv", "_build", ".cache", ".make", "_vendor", "data", "build", ".pytest_cache"}
PIP_REQUIREMENT_FROM_GIT = re.compile(r"^[\w.-]+(?P<extras>\[[^\]]*\])?\s*@\s*git\+\S+$")


def not_in_a_clone(folder: str, names: list[str]) -> list[str]:
    """For :func:`shutil.copytree`: the checkout's own folders a clone lacks, and caches."""
    top = NOT_IN_A_CLONE if Path(folder) == ROOT else set()
    return [name for name in names if name in top or name == "__pycache__" or name.endswith(".egg-info")]


def run(*command, **options) -> subprocess.CompletedProcess:
    """Run a command (without this interpreter's PYTHONPATH); fail the test with its output if it fails."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    process = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                             timeout=1200, env=environment, **options)
    assert process.returncode == 0, \
        f"{shlex.join(map(str, command))} failed:\n{process.stdout}\n{process.stderr}"
    return process


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A venv with no site packages but torch (the pinned CPU build), and a copy of the checkout."""
    folder = tmp_path_factory.mktemp("fresh")
    checkout = folder / "audioprune"
    shutil.copytree(ROOT, checkout, ignore=not_in_a_clone)
    run(sys.executable, "-m", "venv", folder / "venv")
    python = folder / "venv" / "bin" / "python"
    torch_pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                     if line.startswith("torch=="))
    run(python, "-m", "pip", "install", "--no-compile", torch_pin)
    yield python, checkout
    shutil.rmtree(folder)


def test_pip_install_without_extras_runs_the_command_line(fresh, tmp_path):
    python, checkout = fresh
    run(python, "-m", "pip", "install", "--no-compile", checkout)
    probe = ("import importlib.util as u; "
             "print([m for m in ('torch_pruning', 'myst_nb', 'ipywidgets') if u.find_spec(m)])")
    assert run(python, "-c", probe).stdout.strip() == "[]", "no extra is installed"
    command = python.parent / "audioprune"
    assert "prune" in run(command, "--help").stdout

    save_model(DCASE21Baseline(), tmp_path / "baseline.pt")
    pruned = run(command, "prune", "--model", tmp_path / "baseline.pt", "--layers", "conv1",
                 "--ratio", "0.25", "--out", tmp_path / "pruned.pt", cwd=tmp_path)
    assert "saved" in pruned.stdout
    before = DCASE21Baseline().config["channels"]
    after = load_model(tmp_path / "pruned.pt").config["channels"]
    assert after[0] < before[0] and tuple(after[1:]) == tuple(before[1:]), "conv1 alone lost filters"


def test_chapter_one_runs_with_what_its_install_cell_installs(fresh, tmp_path, monkeypatch):
    python, checkout = fresh
    executed = editions.EXECUTED / "01_audio_features.ipynb"
    if not executed.is_file():
        pytest.fail(f"no {executed}: run `make book` first")
    chapter = editions.edition(executed, kind="notebook",
                               citations=editions.read_citations(editions.BIBLIOGRAPHY))
    install_line = next(line.strip() for cell in chapter.cells if cell.cell_type == "code"
                        for line in cell.source.splitlines() if line.strip().startswith("%pip install"))
    arguments = [PIP_REQUIREMENT_FROM_GIT.sub(lambda m: f"{checkout}{m.group('extras') or ''}", argument)
                 for argument in shlex.split(install_line)[2:]]
    assert any(argument.startswith(str(checkout)) for argument in arguments), install_line
    # Colab brings its own kernel; a bare venv needs ipykernel to run one
    run(python, "-m", "pip", "install", "--no-compile", *arguments, "ipykernel")
    run(python, "-m", "ipykernel", "install", "--prefix", python.parent.parent, "--name", "fresh-venv")
    monkeypatch.setenv("JUPYTER_PATH", str(python.parent.parent / "share" / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)

    chapter.cells.append(nbformat.v4.new_code_cell("import audioprune_lite\nprint(audioprune_lite.__file__)"))
    client = nbclient.NotebookClient(chapter, timeout=900, kernel_name="fresh-venv",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    code = [cell for cell in chapter.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a code cell did not run"
    assert code[-1].outputs[0].text.startswith(str(python.parent.parent)), "the package of the fresh venv ran"
    markdown = "\n".join(cell.source for cell in chapter.cells if cell.cell_type == "markdown")
    assert raw_myst(markdown) == []
