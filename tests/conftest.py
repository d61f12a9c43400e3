"""Shared fixtures: tiny data sets written by hand in the TAU 2020 Mobile and ESC-50 layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from threadpoolctl import threadpool_limits

from audioprune_lite.data import write_scene_tables

SR = 16000


def tone(frequency: float, seconds: float = 0.5, sr: int = SR, amplitude: float = 0.5):
    """A sine tone, float32."""
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def write_tau_layout(root: Path, rows, train, evaluate, sr: int = SR) -> Path:
    """Write a TAU-layout data set: ``rows`` are (scene, city, location, segment, device)."""
    (root / "audio").mkdir(parents=True)
    meta = []
    for index, (scene, city, location, segment, device) in enumerate(rows):
        filename = f"audio/{scene}-{city}-{location}-{segment}-{device}.wav"
        sf.write(root / filename, tone(200 + 50 * index, sr=sr), sr)
        meta.append((filename, scene, f"{city}-{location}", device))
    write_scene_tables(root, meta, train=[meta[i][0] for i in train],
                       evaluate=[meta[i][0] for i in evaluate])
    return root


@pytest.fixture
def tau_root(tmp_path) -> Path:
    """Six clips: three locations, devices a, b (training) and zz (evaluation only)."""
    rows = [
        ("park", "lisbon", 1, 0, "a"),
        ("park", "lisbon", 1, 0, "b"),
        ("bus", "milan", 2, 3, "a"),
        ("tram", "vienna", 3, 1, "a"),
        ("tram", "vienna", 3, 1, "zz"),
        ("bus", "vienna", 4, 0, "b"),
    ]
    return write_tau_layout(tmp_path / "tau", rows, train=[0, 1, 2], evaluate=[3, 4, 5])


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One thread for PyTorch and for the BLAS and OpenMP pools, for the whole session.

    The tests' networks and matrices are tiny. On an idle machine a pool of threads gains
    nothing on them; on one shared with other work its threads wait for each other and the
    suite takes markedly longer. The previous settings are restored at the end. A test that
    needs more threads sets them itself and restores them (as ``measure_latency`` does).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)


def answer_from_notebook(path: Path, label: str):
    """The function a chapter's answer cell defines (the solution of coding exercise ``label``).

    The answer cell is the code cell whose metadata ``audioprune.answer`` is ``label``; it is
    self-contained (its imports included) and defines exactly one top-level function.
    """
    import ast

    import nbformat

    cells = [cell for cell in nbformat.read(path, as_version=4).cells
             if cell.cell_type == "code" and cell.metadata.get("audioprune", {}).get("answer") == label]
    assert len(cells) == 1, f"{path.name} has {len(cells)} answer cells labelled {label}"
    source = cells[0].source
    (name,) = [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    namespace: dict = {}
    exec(compile(source, f"{path.name}[{label}]", "exec"), namespace)
    return namespace[name]


def assert_explains_the_failure(result, cases, hint: str, difference: str) -> None:
    """A check's result for a wrong answer: failed, naming the case (one of ``cases``), what was
    expected and what came back, how they differ (``difference``) and the case's ``hint``."""
    cases = [cases] if isinstance(cases, str) else cases
    assert result.status == "failed", result.message
    assert any(f"case *{case}*" in result.message for case in cases), result.message
    assert "Expected" in result.message and "got" in result.message, result.message
    assert difference in result.message, result.message
    assert "Hint:" in result.message and hint in result.message, result.message


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The offline scenes at their smallest (12 clips of 0.2 s per class), for the command
    line's tests; read only (a test that changes it works on a copy)."""
    from audioprune_lite.synthetic import make_synthetic_scenes

    root = tmp_path_factory.mktemp("data") / "scenes"
    return make_synthetic_scenes(root, clips_per_class=12, duration=0.2, seed=1, progress=False)
