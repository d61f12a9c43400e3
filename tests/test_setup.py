"""`make test` installs what it needs: Debian's chromium where the user may (root or
passwordless sudo), one line saying what to install where not. The install script runs here
on a PATH that lacks chromium and holds stubs of apt-get, sudo and id that record their calls."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install_chromium.sh"
BASH = shutil.which("bash")

STUBS = {
    # records its call (with the frontend it was given); `install` puts a chromium on PATH
    "apt-get": """echo "apt-get $* DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-}" >> "$CALLS"
if [ "$1" = install ]; then
  printf '#!%s\\n' "$BASH" > "$STUB_BIN/chromium" && chmod +x "$STUB_BIN/chromium"
fi""",
    "id": """[ "$1" = -u ] && echo "$STUB_UID" """,
    # passwordless when STUB_SUDO=yes: runs the command; otherwise asks for a password, and fails
    "sudo": """echo "sudo $*" >> "$CALLS"
[ "$STUB_SUDO" = yes ] || { echo "sudo: a password is required" >&2; exit 1; }
[ "$1" = -n ] && shift
exec "$@" """,
}


def run_installer(tmp_path: Path, uid: int, sudo: str | None) -> tuple[subprocess.CompletedProcess, list]:
    """Run the install script as user ``uid``; ``sudo`` is "yes" (passwordless), "password",
    or None (no sudo command). Returns the process and the recorded calls."""
    stub_bin, calls = tmp_path / "bin", tmp_path / "calls"
    stub_bin.mkdir()
    calls.touch()
    for name, body in STUBS.items():
        if name == "sudo" and sudo is None:
            continue
        (stub_bin / name).write_text(f"#!{BASH}\n{body}\n")
        (stub_bin / name).chmod(0o755)
    for tool in ("env", "true", "chmod"):  # what the script and the stubs run besides
        (stub_bin / tool).symlink_to(shutil.which(tool))
    environment = {"PATH": str(stub_bin), "CALLS": str(calls), "STUB_BIN": str(stub_bin),
                   "STUB_UID": str(uid), "STUB_SUDO": sudo or "", "BASH": BASH}
    process = subprocess.run([BASH, str(SCRIPT)], env=environment, capture_output=True, text=True,
                             timeout=30)
    return process, calls.read_text().splitlines()


INSTALL = ["apt-get update -qq DEBIAN_FRONTEND=",
           "apt-get install -y -qq chromium chromium-driver DEBIAN_FRONTEND=noninteractive"]


def test_root_installs_chromium_with_apt_get(tmp_path):
    process, calls = run_installer(tmp_path, uid=0, sudo="password")
    assert process.returncode == 0, process.stderr
    assert calls == INSTALL, "as root: apt-get itself, never sudo"


def test_passwordless_sudo_installs_chromium(tmp_path):
    process, calls = run_installer(tmp_path, uid=1000, sudo="yes")
    assert process.returncode == 0, process.stderr
    assert calls == ["sudo -n true",
                     "sudo -n apt-get update -qq", INSTALL[0],
                     "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                     "chromium chromium-driver",
                     INSTALL[1]]


@pytest.mark.parametrize("sudo", [None, "password"], ids=["no sudo", "sudo asks a password"])
def test_a_user_who_cannot_install_is_told_in_one_line(tmp_path, sudo):
    process, calls = run_installer(tmp_path, uid=1000, sudo=sudo)
    assert process.returncode != 0
    assert not [call for call in calls if call.startswith("apt-get")] and len(calls) <= 1
    lines = process.stderr.splitlines()
    assert len(lines) == 1 and "sudo apt-get install chromium chromium-driver" in lines[0], process.stderr


def test_nothing_is_installed_when_chromium_is_there(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "chromium").write_text(f"#!{BASH}\n")
    (tmp_path / "bin" / "chromium").chmod(0o755)
    process = subprocess.run([BASH, str(SCRIPT)], env={"PATH": str(tmp_path / "bin")},
                             capture_output=True, text=True, timeout=30)
    assert process.returncode == 0 and process.stderr == ""


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_test_installs_chromium_before_the_browser_check():
    dry_run = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60, env={**os.environ, "MAKEFLAGS": ""})
    assert dry_run.returncode == 0, dry_run.stderr
    lines = dry_run.stdout.splitlines()
    install = [i for i, line in enumerate(lines) if "scripts/install_chromium.sh" in line]
    browser = [i for i, line in enumerate(lines) if "-m browser" in line]
    book = [i for i, line in enumerate(lines) if "jupyter_book" in line and " build " in line]
    fresh = [i for i, line in enumerate(lines) if "-m fresh" in line]
    assert len(install) == len(browser) == len(book) == len(fresh) == 1, dry_run.stdout
    assert install[0] < browser[0] and book[0] < browser[0] and book[0] < fresh[0]


NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
COLAB_INSTALL = re.compile(r'^if "google\.colab" in sys\.modules:\n    %pip install --quiet '
                           r'"audioprune_lite\[book\] @ git\+(?P<url>\S+)"$', re.M)


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_first_code_cell_installs_the_book_extra_on_colab_only(path):
    """From the repository the launch buttons name, whose notebooks branch they open."""
    code = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    install = COLAB_INSTALL.search(code[0])
    assert install, code[0]
    assert install.group("url") == book_config()["repository"]["url"]
    assert not any("%pip" in source for source in code[1:])


def test_the_launch_buttons_open_the_notebook_edition_branch():
    config = book_config()
    assert config["repository"]["branch"] == "notebooks"
    assert "NOTEBOOKS_BRANCH := notebooks" in (ROOT / "Makefile").read_text()
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]


def installed_closure(requirements: list[str]) -> set[str]:
    """The distributions ``pip install`` of ``requirements`` brings, read from this environment."""
    closure, pending = set(), [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in closure:
            continue
        closure.add(name)
        for line in metadata.requires(requirement.name) or []:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra})
                                            for extra in requirement.extras | {""}):
                pending.append(needed)
    return closure


def test_the_book_extra_brings_everything_the_chapters_import():
    imported = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                imported |= set(re.findall(r"^\s*(?:from|import)\s+(\w+)", cell.source, re.M))
    third_party = imported - set(sys.stdlib_module_names) - {"audioprune_lite"}
    assert {"torch_pruning", "myst_nb", "ipywidgets"} <= third_party
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = installed_closure(project["dependencies"])
    with_book = installed_closure(project["dependencies"] + project["optional-dependencies"]["book"])
    distributions = metadata.packages_distributions()
    missing = {module for module in third_party
               if not {canonicalize_name(d) for d in distributions.get(module, [])} & with_book}
    assert not missing, f"the [book] extra does not bring {missing}"
    assert {"codecarbon", "tabulate"} <= core and "torch-pruning" not in core
