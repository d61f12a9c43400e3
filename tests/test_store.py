"""The one store: atomic writes, keys of inputs and code, and entries that cannot be read."""

from __future__ import annotations

import errno
import json
import os
import stat
import types
import warnings

import numpy as np
import pytest
import torch

from audioprune_lite import experiments, features, store
from audioprune_lite.data import load_scenes
from audioprune_lite.features import LogMelConfig, extract
from audioprune_lite.models import DCASE21Baseline

SMALL = LogMelConfig(sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=20)


def test_cache_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path / "here"))
    assert store.cache_home() == (tmp_path / "here").resolve()
    assert (tmp_path / "here").is_dir()


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "entry.bin"
    store.atomic_write(target, lambda file: file.write(b"old"))

    def cut_short(file):
        file.write(b"half")
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        store.atomic_write(target, cut_short)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.bin"]


def test_fingerprint_tells_arrays_apart_by_dtype_shape_and_values():
    a = np.arange(6, dtype=np.float32)
    keys = {store.fingerprint(a), store.fingerprint(a.astype(np.float64)),
            store.fingerprint(a.reshape(2, 3)), store.fingerprint(a + 1)}
    assert len(keys) == 4
    assert store.fingerprint(a, {"b": 1, "a": 2}) == store.fingerprint(a.copy(), {"a": 2, "b": 1})


def test_code_fingerprint_changes_with_any_file_of_a_package(tmp_path):
    folder = tmp_path / "package"
    (folder / "inner").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "inner" / "deep.py").write_text("X = 1\n")
    package = types.ModuleType("package")
    package.__path__ = [str(folder)]
    before = store.code_fingerprint(package)
    (folder / "inner" / "deep.py").write_text("X = 2\n")
    assert store.code_fingerprint(package) != before


def test_cached_computes_once_then_reads(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": 3}

    def save(result, path):
        store.atomic_write(path, lambda file: file.write(json.dumps(result).encode()))

    def load(path):
        return json.loads(path.read_text())

    first = store.cached(tmp_path / "r.json", compute, save=save, load=load)
    second = store.cached(tmp_path / "r.json", compute, save=save, load=load)
    assert first == ({"value": 3}, False) and second == ({"value": 3}, True)
    assert len(calls) == 1


def test_an_unreadable_entry_is_recomputed_with_a_warning_naming_it(tmp_path):
    entry = tmp_path / "r.json"
    entry.write_text("")  # what a full disk leaves behind

    def save(result, path):
        store.atomic_write(path, lambda file: file.write(json.dumps(result).encode()))

    with pytest.warns(RuntimeWarning, match="r.json"):
        result, was_cached = store.cached(entry, lambda: [1, 2], save=save,
                                          load=lambda p: json.loads(p.read_text()))
    assert (result, was_cached) == ([1, 2], False)
    assert json.loads(entry.read_text()) == [1, 2]


def test_a_truncated_feature_file_is_recomputed(tau_root, tmp_path):
    train = load_scenes(tau_root, "train")
    X, y = extract(train, SMALL, cache_dir=tmp_path, progress=False)
    (entry,) = tmp_path.glob("logmel-*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match=entry.name):
        X_again, y_again = extract(train, SMALL, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(X_again, X)
    np.testing.assert_array_equal(y_again, y)


def test_changed_feature_code_recomputes(tau_root, tmp_path, monkeypatch):
    train = load_scenes(tau_root, "train")
    extract(train, SMALL, cache_dir=tmp_path, progress=False)
    monkeypatch.setattr(features, "code_fingerprint", lambda *sources: "edited-code")
    extract(train, SMALL, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("logmel-*.npz"))) == 2


@pytest.fixture
def tiny_training():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 1, 40, 11)).astype(np.float32)
    y = np.arange(20) % 10
    return (X, y), (X[:10], y[:10])


def _untrained():
    torch.manual_seed(0)
    return DCASE21Baseline()


def test_cached_fit_retrains_when_the_training_code_changes(tiny_training, tmp_path, monkeypatch):
    train, val = tiny_training
    settings = dict(name="tiny", cache_dir=tmp_path, progress=False, epochs=1, device="cpu")
    assert experiments.cached_fit(_untrained(), train, val, **settings)[2] is False
    assert experiments.cached_fit(_untrained(), train, val, **settings)[2] is True
    monkeypatch.setattr(experiments, "code_fingerprint", lambda *sources: "edited-code")
    assert experiments.cached_fit(_untrained(), train, val, **settings)[2] is False


def test_cached_fit_survives_an_empty_history_file(tiny_training, tmp_path):
    train, val = tiny_training
    settings = dict(name="tiny", cache_dir=tmp_path, progress=False, epochs=1, device="cpu")
    model, history, _ = experiments.cached_fit(_untrained(), train, val, **settings)
    (history_file,) = tmp_path.glob("tiny-*.json")
    history_file.write_text("")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again, history_again, was_cached = experiments.cached_fit(_untrained(), train, val, **settings)
    assert not was_cached
    assert any(history_file.with_suffix(".pt").name in str(w.message) for w in caught)
    assert history_again.val_loss == history.val_loss
    assert json.loads(history_file.read_text())["val_loss"] == history.val_loss


def test_cached_fit_is_keyed_on_the_thread_count(tiny_training, tmp_path):
    train, val = tiny_training
    settings = dict(name="tiny", cache_dir=tmp_path, progress=False, epochs=1, device="cpu")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert experiments.cached_fit(_untrained(), train, val, **settings)[2] is False
        assert experiments.cached_fit(_untrained(), train, val, **settings)[2] is True
        torch.set_num_threads(2)
        assert experiments.cached_fit(_untrained(), train, val, **settings)[2] is False
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_atomic_write_respects_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = store.atomic_write(tmp_path / "entry.bin", lambda file: file.write(b"x"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_result_that_cannot_be_cached_is_returned_with_a_warning(tmp_path):
    def unwritable(result, path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    entry = tmp_path / "entry.json"
    with pytest.warns(RuntimeWarning, match=f"{entry}.*cannot be cached.*Read-only file system"):
        result, was_cached = store.cached(entry, lambda: 42, save=unwritable, load=json.loads)
    assert (result, was_cached) == (42, False)
