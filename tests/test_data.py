"""Tests of audioprune_lite.data: the TAU/ESC-50 loaders, device splits and load_audio."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import SR, tone
from hypothesis import given, settings
from hypothesis import strategies as st

from audioprune_lite.data import (
    SCENE_CLASSES,
    SCENE_TABLES,
    AudioFileError,
    DataNotFoundError,
    MetadataError,
    device_split,
    load_audio,
    load_esc50,
    load_scenes,
    scene_table_path,
    write_scene_tables,
)


def test_scene_classes_are_the_ten_tau_labels_in_alphabetical_order():
    assert len(SCENE_CLASSES) == 10
    assert list(SCENE_CLASSES) == sorted(SCENE_CLASSES)
    assert {"metro", "metro_station", "street_traffic", "tram"} <= set(SCENE_CLASSES)


def test_scene_tables_are_those_of_tau():
    """The headers of the TAU Urban Acoustic Scenes 2020 Mobile development set, as published."""
    headers = {table: "\t".join(columns) for table, columns in SCENE_TABLES.items()}
    assert headers == {
        "meta": "filename\tscene_label\tidentifier\tsource_label",
        "train": "filename\tscene_label",
        "evaluate": "filename\tscene_label",
        "test": "filename",
    }
    assert scene_table_path("root", "meta") == Path("root/meta.csv")
    assert scene_table_path("root", "test") == Path("root/evaluation_setup/fold1_test.csv")
    with pytest.raises(ValueError, match="validation"):
        scene_table_path("root", "validation")


# --- write_scene_tables ----------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@st.composite
def scene_rows(draw):
    """Random meta rows with unique file names, and disjoint train and evaluate lists."""
    names = draw(st.lists(TEXT.filter(bool), unique=True, max_size=8))
    meta = [(name, draw(st.sampled_from(SCENE_CLASSES)), draw(TEXT), draw(TEXT)) for name in names]
    split_of = [draw(st.sampled_from(("train", "evaluate", None))) for _ in names]
    order = draw(st.permutations(names))
    train = [n for n in order if split_of[names.index(n)] == "train"]
    evaluate = [n for n in order if split_of[names.index(n)] == "evaluate"]
    return meta, train, evaluate


@settings(max_examples=60, deadline=None)
@given(scene_rows())
def test_written_tables_read_back_as_written(rows):
    meta, train, evaluate = rows
    with tempfile.TemporaryDirectory() as folder:
        write_scene_tables(folder, meta, train, evaluate)
        everything = load_scenes(folder, "all")
        written = everything[list(SCENE_TABLES["meta"])].itertuples(index=False, name=None)
        assert list(written) == meta
        assert load_scenes(folder, "train")["filename"].tolist() == train
        assert load_scenes(folder, "evaluate")["filename"].tolist() == evaluate
        pd.testing.assert_frame_equal(load_scenes(folder, "test"), load_scenes(folder, "evaluate"))


@pytest.mark.parametrize(("meta", "train", "evaluate", "message"), [
    ([("a.wav", "park", "x-1")], [], [], "4 strings"),
    ([("a.wav", "beach", "x-1", "a")], [], [], "beach"),
    ([("", "park", "x-1", "a")], [], [], "empty file name"),
    ([("a.wav", "park", "x\t1", "a")], [], [], "tab"),
    ([("a.wav", "park", "x-1", "a\n")], [], [], "line break"),
    ([("a.wav", "park", "x-1", "a"), ("a.wav", "bus", "y-2", "b")], [], [], "twice: a.wav"),
    ([("a.wav", "park", "x-1", "a")], ["b.wav"], [], "train split.*b.wav"),
    ([("a.wav", "park", "x-1", "a")], ["a.wav"], ["a.wav"], "both splits"),
])
def test_tables_that_could_not_be_read_back_are_refused(tmp_path, meta, train, evaluate, message):
    with pytest.raises(MetadataError, match=message):
        write_scene_tables(tmp_path, meta, train, evaluate)
    assert list(tmp_path.iterdir()) == []


# --- load_scenes -----------------------------------------------------------------------

def test_load_scenes_reads_each_split_in_fold_order(tau_root):
    train = load_scenes(tau_root, "train")
    assert list(train.columns[:4]) == ["filename", "scene_label", "identifier", "source_label"]
    assert list(train["filename"]) == [
        "audio/park-lisbon-1-0-a.wav", "audio/park-lisbon-1-0-b.wav", "audio/bus-milan-2-3-a.wav"
    ]
    assert list(train["label"]) == [SCENE_CLASSES.index(s) for s in ("park", "park", "bus")]
    assert all(pd.Series(train["path"]).map(lambda p: (tau_root / p).is_file()))
    assert train["identifier"].tolist() == ["lisbon-1", "lisbon-1", "milan-2"]


def test_test_split_gets_its_labels_from_meta(tau_root):
    test = load_scenes(tau_root, "test")
    evaluate = load_scenes(tau_root, "evaluate")
    pd.testing.assert_frame_equal(test, evaluate)
    assert len(load_scenes(tau_root, "all")) == 6


def test_device_split_is_computed_from_the_splits_not_from_names(tau_root):
    seen, unseen = device_split(load_scenes(tau_root, "train"), load_scenes(tau_root, "evaluate"))
    assert seen == ["a", "b"]
    assert unseen == ["zz"]


def test_missing_data_folder_says_how_to_get_data(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load_scenes(tmp_path / "nowhere", "train")
    message = str(error.value)
    assert "nowhere" in message
    assert "make_synthetic_scenes" in message and "download_tau2020_mobile.py" in message


def test_missing_fold_file_is_reported(tau_root):
    (tau_root / "evaluation_setup" / "fold1_evaluate.csv").unlink()
    with pytest.raises(DataNotFoundError, match="fold1_evaluate.csv"):
        load_scenes(tau_root, "evaluate")


@pytest.mark.parametrize("column", ["scene_label", "identifier", "source_label"])
def test_meta_without_a_column_names_the_column(tau_root, column):
    meta = pd.read_csv(tau_root / "meta.csv", sep="\t").drop(columns=[column])
    meta.to_csv(tau_root / "meta.csv", sep="\t", index=False)
    with pytest.raises(MetadataError, match=f"'{column}'"):
        load_scenes(tau_root, "train")


def test_comma_separated_meta_is_refused_with_a_hint(tau_root):
    meta = pd.read_csv(tau_root / "meta.csv", sep="\t")
    meta.to_csv(tau_root / "meta.csv", sep=",", index=False)
    with pytest.raises(MetadataError, match="separator"):
        load_scenes(tau_root, "train")


def test_fold_file_naming_an_unknown_clip_is_refused(tau_root):
    path = tau_root / "evaluation_setup" / "fold1_train.csv"
    path.write_text(path.read_text() + "audio/park-oslo-9-9-a.wav\tpark\n")
    with pytest.raises(MetadataError, match="park-oslo-9-9-a.wav"):
        load_scenes(tau_root, "train")


def test_unknown_scene_label_is_refused(tau_root):
    path = tau_root / "meta.csv"
    path.write_text(path.read_text().replace("\ttram\t", "\tbeach\t"))
    with pytest.raises(MetadataError, match="beach"):
        load_scenes(tau_root, "all")


def test_unknown_split_name_is_refused(tau_root):
    with pytest.raises(ValueError, match="validation"):
        load_scenes(tau_root, "validation")


# --- ESC-50 ----------------------------------------------------------------------------

def write_esc50(root, columns=("filename", "fold", "target", "category", "esc10", "src_file",
                               "take")):
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    table = pd.DataFrame({
        "filename": ["1-100032-A-0.wav", "1-100038-A-14.wav"],
        "fold": [1, 1], "target": [0, 14], "category": ["dog", "chirping_birds"],
        "esc10": ["True", "False"], "src_file": ["100032", "100038"], "take": ["A", "A"],
    })
    table[list(columns)].to_csv(root / "meta" / "esc50.csv", index=False)
    for name in table["filename"]:
        sf.write(root / "audio" / name, tone(440, seconds=0.1), SR)
    return root


def test_load_esc50_reads_types_and_paths(tmp_path):
    esc = load_esc50(write_esc50(tmp_path / "esc"))
    assert esc["target"].tolist() == [0, 14] and esc["label"].tolist() == [0, 14]
    assert esc["esc10"].tolist() == [True, False]
    assert esc["fold"].dtype == np.int64
    assert all(load_audio(p, sr=SR).size == 1600 for p in esc["path"])


def test_esc50_table_without_a_column_names_it(tmp_path):
    root = write_esc50(tmp_path / "esc", columns=("filename", "fold", "category", "esc10",
                                                  "src_file", "take"))
    with pytest.raises(MetadataError, match="'target'"):
        load_esc50(root)


def test_esc50_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="download_esc50.py"):
        load_esc50(tmp_path / "esc")


# --- load_audio ------------------------------------------------------------------------

def dominant_frequency(y, sr):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()]


def test_other_sample_rates_are_resampled(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1000, seconds=0.5, sr=16000), 16000)
    y = load_audio(path, sr=44100)
    assert y.dtype == np.float32 and y.shape == (22050,)
    assert dominant_frequency(y, 44100) == pytest.approx(1000, abs=3)


def test_stereo_is_mixed_down_by_the_mean(tmp_path):
    left, right = tone(300), tone(700, amplitude=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, sr=SR), (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("suffix,subtype", [
    ("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"), ("flac", "PCM_24"), ("ogg", "VORBIS"),
])
def test_common_formats_read_as_float32_at_full_scale(tmp_path, suffix, subtype):
    signal = tone(440, amplitude=0.8)
    path = tmp_path / f"clip.{suffix}"
    sf.write(path, signal, SR, subtype=subtype)
    y = load_audio(path, sr=SR)
    assert y.dtype == np.float32 and y.shape == signal.shape
    tolerance = 0.05 if subtype == "VORBIS" else 1e-3
    assert np.max(np.abs(y)) == pytest.approx(0.8, abs=tolerance)
    assert dominant_frequency(y, SR) == pytest.approx(440, abs=3)


def test_duration_pads_and_trims(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, tone(440, seconds=0.5), SR)
    padded = load_audio(path, sr=SR, duration=1.0)
    assert padded.shape == (SR,) and not padded[SR // 2 + 10:].any()
    assert load_audio(path, sr=SR, duration=0.25).shape == (SR // 4,)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        load_audio(tmp_path / "gone.wav")


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk" * 4, b"not audio at all"])
def test_empty_or_corrupt_files_raise_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match="broken.wav"):
        load_audio(path)


def test_file_without_samples_is_refused(tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioFileError, match="nothing.wav.*no samples"):
        load_audio(path, sr=SR)


def test_bad_arguments_are_refused(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, tone(440), SR)
    with pytest.raises(ValueError, match="duration"):
        load_audio(path, sr=SR, duration=0)
    with pytest.raises(ValueError, match="sample rate"):
        load_audio(path, sr=0)
