"""The checks of Chapters 1 and 8 on plausible wrong answers: each names the case that
failed, what was expected, what came back and the hint (what every check promises for
every exercise is tested in ``test_checks.py``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
from conftest import answer_from_notebook, assert_explains_the_failure

from audioprune_lite import checks

ROOT = Path(__file__).resolve().parents[1]

CHAPTER_1 = ROOT / "book" / "01_audio_features.ipynb"
CHAPTER_8 = ROOT / "book" / "08_real_recordings.ipynb"

EXERCISES = {  # check: (chapter, exercise label)
    "mel_spectrogram": (CHAPTER_1, "ch1-mel"),
    "decibels": (CHAPTER_1, "ch1-decibels"),
    "mono_mixdown": (CHAPTER_8, "ch8-mono"),
    "fixed_length": (CHAPTER_8, "ch8-length"),
}


# Plausible wrong answers -----------------------------------------------------------------

def _stft(y, config, *, center=True, window=None):
    return np.abs(librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length,
                               win_length=config.win_length, window=window or config.window,
                               center=center))


def _bank(config):
    return librosa.filters.mel(sr=config.sr, n_fft=config.n_fft, n_mels=config.n_mels,
                               fmin=config.fmin, fmax=config.top_frequency)


def mel_without_centring(y, config):
    return _bank(config) @ _stft(y, config, center=False) ** config.power


def mel_of_powers_always(y, config):
    return _bank(config) @ _stft(y, config) ** 2


def mel_without_filter_bank(y, config):
    return _stft(y, config) ** config.power


def mel_with_hamming_typed_in(y, config):
    return _bank(config) @ _stft(y, config, window="hamming") ** config.power


def _factor(config):
    return 20.0 if config.power == 1 else 10.0


def decibels_without_floor(mel, config):
    with np.errstate(divide="ignore"):
        return _factor(config) * np.log10(mel)


def decibels_with_an_epsilon_for_a_floor(mel, config):
    return _factor(config) * np.log10(mel + 1e-12)


def decibels_ten_for_magnitudes(mel, config):
    return np.maximum(10 * np.log10(np.maximum(mel, 1e-30)), config.floor_db)


def decibels_with_librosa_defaults(mel, config):
    return librosa.amplitude_to_db(mel, ref=1.0)


def decibels_floor_typed_in(mel, config):
    return np.maximum(_factor(config) * np.log10(np.maximum(mel, 1e-30)), -100.0)


def mono_left_channel_only(y, sr, target_sr):
    return librosa.resample(y[:, 0], orig_sr=sr, target_sr=target_sr)


def mono_without_resampling(y, sr, target_sr):
    return y.mean(axis=1)


def mono_averaged_over_time(y, sr, target_sr):
    return y.mean(axis=0)


def mono_first_and_last_channel(y, sr, target_sr):
    return librosa.resample((y[:, 0] + y[:, -1]) / 2, orig_sr=sr, target_sr=target_sr)


def _pad(y, n_samples, *, at_start=False):
    missing = max(0, n_samples - len(y))
    return np.pad(y[:n_samples], (missing, 0) if at_start else (0, missing))


def length_cut_down(y, sr, seconds):
    return _pad(y, int(seconds * sr))


def length_padded_at_the_start(y, sr, seconds):
    return _pad(y, round(seconds * sr), at_start=True)


def length_keeping_the_end(y, sr, seconds):
    n_samples = round(seconds * sr)
    return _pad(y[-n_samples:], n_samples)


def length_at_16_khz_typed_in(y, sr, seconds):
    return _pad(y, round(seconds * 16000))


WRONG = [  # check, wrong answer, the case it fails, words of that case's hint, of the difference
    ("mel_spectrogram", mel_without_centring, "a 1 kHz tone", "columns frames",
     "the shape is (40, 11), not (40, 13)"),
    ("mel_spectrogram", mel_of_powers_always, "a 1 kHz tone", "magnitudes or powers",
     "the values differ"),
    ("mel_spectrogram", mel_without_filter_bank, "a 1 kHz tone", "Rows are mel bands",
     "the shape is (1025, 13)"),
    ("mel_spectrogram", mel_with_hamming_typed_in,
     "noise at 16 kHz, Hann window, 64 bands, power 2", "did you type in", "the values differ"),
    ("decibels", decibels_without_floor, "a silent clip", "logarithm of zero", "not finite"),
    ("decibels", decibels_with_an_epsilon_for_a_floor, "a silent clip",
     "keeps the answer finite", "the values differ"),
    ("decibels", decibels_ten_for_magnitudes, "a 1 kHz tone", "factor of 10 in magnitude",
     "the values differ"),
    ("decibels", decibels_with_librosa_defaults, "a 1 kHz tone", "Decibels measure power",
     "the values differ"),
    ("decibels", decibels_floor_typed_in, "a power spectrogram with a floor of -80 dB",
     "the floor both follow `config`", "-100 instead of -80"),
    ("mono_mixdown", mono_left_channel_only, "a stereo file, left and right differing",
     "every channel count", "the values differ"),
    ("mono_mixdown", mono_without_resampling, "a phone's stereo recording at 48 kHz",
     "at `target_sr`", "the shape is (4800,), not (4410,)"),
    ("mono_mixdown", mono_averaged_over_time, "a mono file at the target rate",
     "already mono", "the shape is (1,), not (4410,)"),
    ("mono_mixdown", mono_first_and_last_channel, "four channels at 22.05 kHz",
     "all of them mixed in", "the values differ"),
    ("fixed_length", length_cut_down, "0.30004 s, not a whole number of samples",
     "rounded or cut down", "the shape is (4800,), not (4801,)"),
    ("fixed_length", length_padded_at_the_start, "a shorter clip", "Where do the zeros go",
     "the values differ"),
    ("fixed_length", length_keeping_the_end, "a longer clip", "Which end of the clip",
     "the values differ"),
    ("fixed_length", length_at_16_khz_typed_in, "a 4.9-s clip at 44.1 kHz padded to 5 s",
     "the `sr` you were given", "the shape is (80000,), not (220500,)"),
]


# Tests -------------------------------------------------------------------------------------

def test_every_check_is_exported_and_has_an_exercise():
    assert sorted(checks.features.__all__) == sorted(EXERCISES)
    assert {name for name, *_ in WRONG} == set(EXERCISES)


@pytest.mark.parametrize(("name", "answer", "case", "hint", "difference"), WRONG,
                         ids=[answer.__name__ for _, answer, *_ in WRONG])
def test_a_wrong_answer_names_the_case_the_difference_and_the_hint(name, answer, case, hint,
                                                                   difference):
    assert_explains_the_failure(getattr(checks, name)(answer), case, hint, difference)


def test_the_clip_shorter_than_one_fft_prints_no_warning():
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert checks.mel_spectrogram(answer_from_notebook(CHAPTER_1, "ch1-mel")).passed
    assert not warned, [str(warning.message) for warning in warned]
