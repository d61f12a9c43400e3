"""Data that would give wrong or inflated results is refused by name; stale features are not
reused; killed runs leave no staging folders behind; what is made can be shared."""

from __future__ import annotations

import functools
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audioprune_lite import data
from audioprune_lite.data import AudioFileError, MetadataError, load_audio, load_esc50, load_scenes
from audioprune_lite.features import LogMelConfig, extract
from audioprune_lite.synthetic import writer

SMALL = LogMelConfig(sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=20)


def append_row(path, row: str) -> None:
    with open(path, "a", encoding="utf-8") as table:
        table.write(row + "\n")


def first_row(path) -> list[str]:
    return path.read_text().splitlines()[1].split("\t")


def test_a_same_size_edit_with_the_old_modification_time_is_extracted_again(tau_root, tmp_path):
    train = load_scenes(tau_root, "train")
    stale, _ = extract(train, SMALL, cache_dir=tmp_path, progress=False)
    clip = train["path"][0]
    before = os.stat(clip)
    samples, sr = sf.read(clip, dtype="float32")
    sf.write(clip, -samples[::-1].copy(), sr)  # same length, same size, other content
    os.utime(clip, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(clip).st_size == before.st_size and os.stat(clip).st_mtime_ns == before.st_mtime_ns
    again, _ = extract(train, SMALL, cache_dir=tmp_path, progress=False)
    fresh, _ = extract(train, SMALL, progress=False)
    assert not np.array_equal(again, stale) and np.array_equal(again, fresh)


@pytest.mark.parametrize("split", ["train", "evaluate"])
def test_evaluation_clips_in_the_training_table_are_refused_by_name(tau_root, split):
    train_table = data.scene_table_path(tau_root, "train")
    leaked = first_row(data.scene_table_path(tau_root, "evaluate"))
    append_row(train_table, "\t".join(leaked))  # as a new user might, to train on more data
    with pytest.raises(MetadataError, match=f"1 files are in both fold1_train.csv and "
                                            f"fold1_evaluate.csv, e.g. {leaked[0]}.*inflates"):
        load_scenes(tau_root, split)


def test_a_fold_label_that_disagrees_with_meta_is_refused(tau_root):
    table = data.scene_table_path(tau_root, "train")
    lines = table.read_text().splitlines()
    name, label = lines[1].split("\t")
    other = next(scene for scene in data.SCENE_CLASSES if scene != label)
    table.write_text("\n".join([lines[0], f"{name}\t{other}", *lines[2:]]) + "\n")
    with pytest.raises(MetadataError, match=f"labels {name} '{other}' but meta.csv says '{label}'"):
        load_scenes(tau_root, "train")


@pytest.mark.parametrize("table", ["train", "meta"])
def test_a_repeated_row_is_refused_in_the_packages_words(tau_root, table):
    path = data.scene_table_path(tau_root, table)
    append_row(path, path.read_text().splitlines()[1])
    with pytest.raises(MetadataError, match=f"{path.name} names .* more than once"):
        load_scenes(tau_root, "train")


def test_a_repeated_esc50_row_is_refused(tmp_path):
    root = tmp_path / "esc50"
    (root / "meta").mkdir(parents=True)
    row = "1-100-A-0.wav,1,0,dog,True,100,A"
    (root / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n" + row + "\n" + row + "\n")
    with pytest.raises(MetadataError, match="names 1-100-A-0.wav more than once"):
        load_esc50(root)


def test_a_truncated_wav_is_named(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000, subtype="PCM_16")
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2)
    with pytest.raises(AudioFileError, match=f"{path} is cut short"):
        load_audio(path, sr=16000)


@pytest.fixture
def small_default_scenes(tmp_path, monkeypatch):
    """:func:`writer.default_scenes` in its own cache, making a tiny data set."""
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(writer, "make_synthetic_scenes", functools.partial(
        writer.make_synthetic_scenes, clips_per_class=2, duration=0.1, sr=8000, progress=False))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(small_default_scenes):
    stale = small_default_scenes / f".synthetic-scenes-{dead_pid()}-abc123"
    (stale / "audio").mkdir(parents=True)
    (stale / "audio" / "half.wav").write_bytes(b"RIFF")
    root = writer.default_scenes(progress=False)
    assert root.is_dir() and not stale.exists()


def test_a_live_runs_staging_folder_is_kept(small_default_scenes):
    live = small_default_scenes / f".synthetic-scenes-{os.getpid()}-live"  # this very process
    live.mkdir()
    writer.default_scenes(progress=False)
    assert live.is_dir()


def test_a_staging_folder_locked_by_a_running_process_is_kept(small_default_scenes, tmp_path):
    """The lock held by a run at work protects its folder, whatever its name says."""
    code = ("import sys, time\nfrom audioprune_lite.store import staged_folder\n"
            "with staged_folder(sys.argv[1], prefix='.synthetic-scenes-') as staging:\n"
            "    print(staging, flush=True)\n    time.sleep(60)\n")
    owner = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "home" / "other")],
                             stdout=subprocess.PIPE, text=True)
    try:
        busy = owner.stdout.readline().strip()
        assert busy and os.path.isdir(busy)
        writer.default_scenes(progress=False)
        assert os.path.isdir(busy)
    finally:
        owner.kill()
        owner.wait()


def test_the_data_set_is_readable_by_everyone_under_umask_022(small_default_scenes):
    previous = os.umask(0o022)
    try:
        root = writer.default_scenes(progress=False)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "audio").stat().st_mode) == 0o755
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o644 for path in root.rglob("*") if path.is_file())
    assert pd.read_csv(data.scene_table_path(root, "meta"), sep="\t").shape[0] > 0
    assert time.time() - root.stat().st_mtime < 600
