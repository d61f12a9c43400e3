"""Tests of audioprune_lite.features: log-mel values and the cached extractor."""

from __future__ import annotations

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import SR, tone

from audioprune_lite import features
from audioprune_lite.data import AudioFileError, load_scenes
from audioprune_lite.features import LogMelConfig, extract, log_mel, mel_filter_bank


def test_defaults_are_the_dcase_2021_baseline_settings():
    config = LogMelConfig()
    assert (config.sr, config.n_fft, config.win_length, config.hop_length) == (44100, 2048, 1764, 882)
    assert (config.window, config.n_mels, config.fmin, config.top_frequency) == ("hamming", 40, 0, 22050)


@pytest.mark.parametrize("seconds,frames", [(1.0, 51), (10.0, 501), (0.5, 26)])
def test_frames_are_centred(seconds, frames):
    y = np.random.default_rng(0).normal(size=round(seconds * 44100)).astype(np.float32) * 0.1
    assert log_mel(y).shape == (40, frames)
    assert LogMelConfig().n_frames(len(y)) == frames


def test_log_mel_agrees_with_librosa_melspectrogram_in_decibels():
    y = np.random.default_rng(1).normal(scale=0.1, size=44100).astype(np.float32)
    reference = librosa.feature.melspectrogram(
        y=y, sr=44100, n_fft=2048, win_length=1764, hop_length=882, window="hamming",
        n_mels=40, fmin=0, fmax=22050, power=1.0,
    )
    np.testing.assert_allclose(log_mel(y), 20 * np.log10(reference), atol=1e-3)


def test_silence_gives_the_finite_floor():
    silent = log_mel(np.zeros(44100, dtype=np.float32))
    assert np.isfinite(silent).all()
    assert np.all(silent == LogMelConfig().floor_db)


def test_a_gain_is_a_constant_offset_in_decibels():
    y = np.random.default_rng(2).normal(scale=0.3, size=44100).astype(np.float32)
    difference = log_mel(0.1 * y) - log_mel(y)
    np.testing.assert_allclose(difference, -20.0, atol=1e-3)


def test_a_tone_lights_up_the_band_that_holds_its_frequency():
    config = LogMelConfig()
    feature = log_mel(tone(3000, seconds=1.0, sr=44100), config)
    centres = librosa.mel_frequencies(config.n_mels + 2, fmax=config.top_frequency)[1:-1]
    loudest = feature[:, 5:-5].mean(axis=1).argmax()
    assert abs(centres[loudest] - 3000) < 300


def test_power_spectrogram_option_matches_its_definition():
    y = np.random.default_rng(3).normal(scale=0.1, size=22050).astype(np.float32)
    power = LogMelConfig(power=2.0)
    reference = librosa.feature.melspectrogram(
        y=y, sr=44100, n_fft=2048, win_length=1764, hop_length=882, window="hamming",
        n_mels=40, power=2.0,
    )
    np.testing.assert_allclose(log_mel(y, power), 10 * np.log10(reference), atol=1e-3)


@pytest.mark.parametrize("change,message", [
    (dict(win_length=4096), "exceeds n_fft"),
    (dict(hop_length=0), "hop_length"),
    (dict(fmax=30000.0), "fmax"),
    (dict(power=3.0), "power"),
])
def test_inconsistent_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        LogMelConfig(**change)


def test_filter_bank_is_shared_and_read_only():
    bank = mel_filter_bank(LogMelConfig())
    assert bank.shape == (40, 1025) and bank is mel_filter_bank(LogMelConfig())
    with pytest.raises(ValueError):
        bank[0, 0] = 1.0


# --- extract ---------------------------------------------------------------------------

SMALL = LogMelConfig(sr=SR, n_fft=512, win_length=400, hop_length=160, n_mels=20)


def test_extract_stacks_features_and_labels(tau_root):
    train = load_scenes(tau_root, "train")
    X, y = extract(train, SMALL, progress=False)
    assert X.shape == (3, 1, 20, 51) and X.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == train["label"].tolist()
    for row, path in enumerate(train["path"]):  # librosa on the file as soundfile reads it
        audio, _ = sf.read(path, dtype="float32")
        reference = librosa.feature.melspectrogram(
            y=audio, sr=SR, n_fft=512, win_length=400, hop_length=160, window="hamming",
            n_mels=20, fmin=0, fmax=SR / 2, power=1.0,
        )
        np.testing.assert_allclose(X[row, 0], np.maximum(20 * np.log10(reference), -100), atol=1e-3)


def test_extract_reads_its_cache_instead_of_the_audio(tau_root, tmp_path, monkeypatch):
    train = load_scenes(tau_root, "train")
    first = extract(train, SMALL, cache_dir=tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").glob("logmel-*.npz"))) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("audio was read although the cache holds the features")

    monkeypatch.setattr(features, "load_audio", no_reading)
    second = extract(train, SMALL, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_changed_settings_or_files_recompute(tau_root, tmp_path):
    train = load_scenes(tau_root, "train")
    cache = tmp_path / "cache"
    X, _ = extract(train, SMALL, cache_dir=cache, progress=False)
    X_mels, _ = extract(train, LogMelConfig(sr=SR, n_fft=512, win_length=400, hop_length=160,
                                            n_mels=16), cache_dir=cache, progress=False)
    assert X_mels.shape[2] == 16
    sf.write(train["path"][0], tone(3000), SR)  # same length and name, new content
    X_new, _ = extract(train, SMALL, cache_dir=cache, progress=False)
    assert not np.allclose(X_new[0], X[0])
    np.testing.assert_array_equal(X_new[1:], X[1:])
    assert len(list(cache.glob("logmel-*.npz"))) == 3


def test_clips_of_different_lengths_need_a_duration(tau_root):
    train = load_scenes(tau_root, "train")
    sf.write(train["path"][2], tone(300, seconds=0.8), SR)
    with pytest.raises(ValueError, match="duration="):
        extract(train, SMALL, progress=False)
    X, _ = extract(train, SMALL, progress=False, duration=0.5)
    assert X.shape == (3, 1, 20, 51)


def test_a_corrupt_clip_is_named_and_nothing_is_cached(tau_root, tmp_path):
    train = load_scenes(tau_root, "train")
    with open(train["path"][1], "wb") as file:
        file.write(b"garbage")
    with pytest.raises(AudioFileError, match="park-lisbon-1-0-b.wav"):
        extract(train, SMALL, cache_dir=tmp_path / "cache", progress=False)
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.iterdir())


def test_a_silent_clip_gives_finite_features(tau_root):
    train = load_scenes(tau_root, "train")
    sf.write(train["path"][0], np.zeros(SR // 2, dtype=np.float32), SR)
    X, _ = extract(train, SMALL, progress=False)
    assert np.isfinite(X).all() and X[0].max() == SMALL.floor_db


def test_an_empty_split_or_table_without_labels_is_refused():
    with pytest.raises(ValueError, match="empty"):
        extract(pd.DataFrame({"path": [], "label": []}), SMALL, progress=False)
    with pytest.raises(ValueError, match="'label'"):
        extract(pd.DataFrame({"path": ["x.wav"]}), SMALL, progress=False)
