"""Real recordings: ESC-50 through the same functions as the offline scenes, and chapter 8 on a miniature."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from nbclient import NotebookClient

from audioprune_lite import data
from audioprune_lite.data import DataNotFoundError, layout_of
from audioprune_lite.experiments import default_features

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "08_real_recordings.ipynb"
CATEGORIES = ("dog", "rain", "church_bells", "keyboard_typing")


def write_esc50_miniature(root: Path, clips_per_fold: int = 2, sr: int = 8000) -> Path:
    """ESC-50's layout with four classes, five folds and one-second clips (a tone per class)."""
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(1, 6):
        for target, category in enumerate(CATEGORIES):
            for take in range(clips_per_fold):
                source = f"{fold}{target}{take}00"
                name = f"{fold}-{source}-A-{target}.wav"
                t = np.arange(sr) / sr
                clip = 0.3 * np.sin(2 * np.pi * 300 * (target + 1) * t) + 0.05 * rng.normal(size=sr)
                sf.write(root / "audio" / name, clip.astype(np.float32), sr)
                rows.append((name, fold, target, category, target < 2, source, "A"))
    pd.DataFrame(rows, columns=data.ESC50_META_COLUMNS).to_csv(root / "meta" / "esc50.csv",
                                                                index=False)
    return root


@pytest.fixture
def esc50_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path / "cache"))
    return write_esc50_miniature(tmp_path / "esc50")


def test_layout_of_tells_the_two_layouts_apart(esc50_root, tau_root, tmp_path):
    assert layout_of(esc50_root) == "esc50"
    assert layout_of(tau_root) == "tau"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="download_esc50.py"):
        layout_of(tmp_path / "empty")


def test_esc50_is_split_by_its_own_folds(esc50_root):
    features = default_features(esc50_root, progress=False)
    assert features.classes == list(CATEGORIES)
    assert set(features.train["fold"]) == {1, 2, 3}
    assert set(features.val["fold"]) == {4}
    assert set(features.evaluate["fold"]) == {5}
    assert (len(features.y_train), len(features.y_val), len(features.y_eval)) == (24, 8, 8)
    assert features.X_train.shape[1:] == (1, 40, 51)  # one second at the baseline's settings
    sources = [set(part["src_file"]) for part in (features.train, features.val, features.evaluate)]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])
    assert features.seen == [] and features.unseen == []


def run_chapter(monkeypatch, esc50: Path, home: Path, settings: str | None = None) -> str:
    """Execute chapter 8 with ``AUDIOPRUNE_ESC50`` set; return the text of its outputs."""
    notebook = nbformat.read(CHAPTER, as_version=4)
    if settings is not None:
        (cell,) = [c for c in notebook.cells if "SETTINGS = {" in c.source]
        cell.source = "\n".join(settings if line.startswith("SETTINGS = {") else line
                                for line in cell.source.splitlines())
    for name, value in {"AUDIOPRUNE_ESC50": esc50, "AUDIOPRUNE_HOME": home, "OMP_NUM_THREADS": 1}.items():
        monkeypatch.setenv(name, str(value))  # the kernel inherits the environment
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(CHAPTER.parent)}}).execute()
    return json.dumps([c.get("outputs", []) for c in notebook.cells])


def test_chapter_8_runs_on_a_miniature_in_the_real_layout(esc50_root, tmp_path, monkeypatch):
    outputs = run_chapter(monkeypatch, esc50_root, tmp_path / "cache",
                          settings='SETTINGS = {"epochs": 2, "finetune_epochs": 1, "seeds": (0,)}')
    assert "4 classes; clips for training 24, validation 8, evaluation 8" in outputs
    assert "best epoch" in outputs
    for row in ("C1+C2+C3", "cosine", "l1", "fine-tuned", "drop from unpruned fine-tuned alike",
                "binomial 95% of the evaluation clips"):
        assert row in outputs, f"the pruning table lacks {row!r}"
    assert "all the allowed epochs ran" in outputs  # 2 epochs: early stopping cannot end them


def test_chapter_8_without_the_data_says_how_to_get_it(tmp_path, monkeypatch):
    outputs = run_chapter(monkeypatch, tmp_path / "nowhere", tmp_path / "cache")
    assert "python data_scripts/download_esc50.py --root data/esc50" in outputs
    assert "best epoch" not in outputs and "C1+C2+C3" not in outputs


def test_the_command_line_trains_on_esc50(esc50_root, tmp_path, capsys):
    from audioprune_lite import cli
    from audioprune_lite.train import load_model

    assert cli.main(["prepare", "--data", str(esc50_root)]) == 0
    assert "4 classes; training 24 clips, validation 8, evaluation 8" in capsys.readouterr().out
    out = tmp_path / "esc50.pt"
    assert cli.main(["train", "--data", str(esc50_root), "--epochs", "1", "--out", str(out)]) == 0
    assert "evaluation accuracy" in capsys.readouterr().out
    assert load_model(out).config["n_classes"] == 4
