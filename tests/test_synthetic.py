"""Tests of the offline scene synthesiser and of the TAU-layout data set it writes."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioprune_lite import synthetic
from audioprune_lite.synthetic import (
    CITIES,
    DEFAULT_UNSEEN_DEVICES,
    SCENE_CLASSES,
    make_synthetic_scenes,
    plan_clips,
    synthesize_scene,
)

SR = 16000
DURATION = 0.25
TINY = {"clips_per_class": 6, "duration": DURATION, "sr": SR, "progress": False}
FILENAME = re.compile(
    rf"^audio/({'|'.join(SCENE_CLASSES)})-({'|'.join(CITIES)})-(\d+)-(\d+)-([a-z0-9]+)\.wav$"
)


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a tab-separated file."""
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file, delimiter="\t")
        return reader.fieldnames, list(reader)


def all_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_synthetic_scenes(tmp_path_factory.mktemp("tiny") / "scenes", seed=0, **TINY)


@pytest.fixture(scope="module")
def tables(tiny):
    """meta.csv rows by filename, and the file names of each split."""
    _, meta = read_table(tiny / "meta.csv")
    _, train = read_table(tiny / "evaluation_setup" / "fold1_train.csv")
    _, evaluate = read_table(tiny / "evaluation_setup" / "fold1_evaluate.csv")
    return {row["filename"]: row for row in meta}, train, evaluate


# --- determinism ---------------------------------------------------------------------------

def test_same_arguments_give_byte_identical_files(tiny, tmp_path):
    again = make_synthetic_scenes(tmp_path / "again", seed=0, **TINY)
    first, second = all_files(tiny), all_files(again)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_another_seed_gives_other_audio(tiny, tmp_path):
    other = make_synthetic_scenes(tmp_path / "other", seed=1, **TINY)
    first, second = all_files(tiny), all_files(other)
    shared_audio = [name for name in first if name.startswith("audio/") and name in second]
    identical = [name for name in shared_audio if first[name] == second[name]]
    assert len(identical) < len(shared_audio) / 10


def test_a_segment_does_not_depend_on_what_was_made_before():
    first = synthesize_scene("bus", duration=0.2, sr=SR, seed=4, location=1003, segment=1)
    synthesize_scene("park", duration=0.3, sr=SR, seed=4, location=1010, segment=0)
    again = synthesize_scene("bus", duration=0.2, sr=SR, seed=4, location=1003, segment=1)
    np.testing.assert_array_equal(first, again)


# --- layout --------------------------------------------------------------------------------

def test_audio_file_names_follow_tau(tiny, tables):
    meta, _, _ = tables
    on_disk = sorted(f"audio/{p.name}" for p in (tiny / "audio").iterdir())
    assert on_disk == sorted(meta)
    for filename, row in meta.items():
        scene, city, location, _segment, device = FILENAME.match(filename).groups()
        assert row["scene_label"] == scene
        assert row["identifier"] == f"{city}-{location}"
        assert row["source_label"] == device


def test_headers_are_exactly_those_of_tau(tiny):
    setup = tiny / "evaluation_setup"
    first_lines = {
        path.name: path.read_text(encoding="utf-8").splitlines()[0]
        for path in (tiny / "meta.csv", setup / "fold1_train.csv", setup / "fold1_evaluate.csv",
                     setup / "fold1_test.csv")
    }
    assert first_lines == {
        "meta.csv": "filename\tscene_label\tidentifier\tsource_label",
        "fold1_train.csv": "filename\tscene_label",
        "fold1_evaluate.csv": "filename\tscene_label",
        "fold1_test.csv": "filename",
    }


def test_fold_lists_agree_with_meta_and_disk(tiny, tables):
    meta, train, evaluate = tables
    for row in train + evaluate:
        assert row["filename"] in meta
        assert row["scene_label"] == meta[row["filename"]]["scene_label"]
        assert (tiny / row["filename"]).is_file()
    train_names = [row["filename"] for row in train]
    evaluate_names = [row["filename"] for row in evaluate]
    assert len(set(train_names)) == len(train_names)
    assert not set(train_names) & set(evaluate_names)
    assert sorted(train_names + evaluate_names) == sorted(meta)


def test_test_list_is_the_evaluate_list_without_labels(tiny, tables):
    _, _, evaluate = tables
    header, test = read_table(tiny / "evaluation_setup" / "fold1_test.csv")
    assert header == ["filename"]
    assert [row["filename"] for row in test] == [row["filename"] for row in evaluate]


def test_readme_says_what_the_data_is(tiny):
    text = (tiny / "README.md").read_text(encoding="utf-8")
    assert "Synthetic" in text and "make_synthetic_scenes" in text and "seed=0" in text


# --- splits and devices ---------------------------------------------------------------------

def test_no_location_is_in_both_splits(tables):
    meta, train, evaluate = tables
    train_places = {meta[row["filename"]]["identifier"] for row in train}
    evaluate_places = {meta[row["filename"]]["identifier"] for row in evaluate}
    assert train_places and evaluate_places
    assert not train_places & evaluate_places


def test_every_class_is_in_both_splits(tables):
    _, train, evaluate = tables
    assert {row["scene_label"] for row in train} == set(SCENE_CLASSES)
    assert {row["scene_label"] for row in evaluate} == set(SCENE_CLASSES)


def test_unseen_devices_are_only_evaluated_and_a_dominates_training(tables):
    meta, train, evaluate = tables
    train_devices = Counter(meta[row["filename"]]["source_label"] for row in train)
    evaluate_devices = Counter(meta[row["filename"]]["source_label"] for row in evaluate)
    assert set(train_devices) == {"a", "b", "c"}
    assert train_devices["a"] > train_devices["b"] + train_devices["c"]
    assert set(evaluate_devices) == {"a", "b", "c", *DEFAULT_UNSEEN_DEVICES}
    assert len(set(evaluate_devices.values())) == 1  # balanced over devices


def test_default_sizes():
    clips = plan_clips(100)
    train = Counter(clip.device for clip in clips if clip.split == "train")
    evaluate = Counter(clip.device for clip in clips if clip.split == "evaluate")
    assert train == {"a": 880, "b": 150, "c": 150}
    assert evaluate == {device: 120 for device in ("a", "b", "c", "s4", "s5", "s6")}


def test_devices_record_the_same_segment(tiny, tables):
    """As in TAU, all devices of an evaluate segment hear the same scene."""
    meta, _, evaluate = tables
    name = evaluate[0]["filename"]
    stem = name.rsplit("-", 1)[0]
    reference, _ = sf.read(tiny / f"{stem}-a.wav")
    consumer, _ = sf.read(tiny / f"{stem}-b.wav")
    other_segment = next(f for f in meta if f.endswith("-a.wav") and not f.startswith(stem))
    unrelated, _ = sf.read(tiny / other_segment)
    assert np.corrcoef(reference, consumer)[0, 1] > 0.8
    assert abs(np.corrcoef(reference, unrelated)[0, 1]) < 0.3


def test_other_device_names_work_and_keep_their_responses(tmp_path):
    root = make_synthetic_scenes(tmp_path / "custom", clips_per_class=2, duration=0.1, sr=SR,
                                 devices=("ref", "phone", "x9"), unseen_devices=("x9",),
                                 progress=False)
    _, meta = read_table(root / "meta.csv")
    _, train = read_table(root / "evaluation_setup" / "fold1_train.csv")
    device_of = {row["filename"]: row["source_label"] for row in meta}
    assert {device_of[row["filename"]] for row in train} == {"ref", "phone"}
    assert {row["source_label"] for row in meta} == {"ref", "phone", "x9"}
    assert synthetic.device_response("x9", seed=0) == synthetic.device_response("x9", seed=0)
    assert synthetic.device_response("x9", seed=0) != synthetic.device_response("x9", seed=1)
    assert synthetic.device_response("ref", reference=True) == synthetic.DEVICE_RESPONSES["a"]


# --- audio ---------------------------------------------------------------------------------

def test_files_have_the_requested_format(tiny, tables):
    meta, _, _ = tables
    for filename in list(meta)[::7]:
        info = sf.info(tiny / filename)
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert info.frames == round(DURATION * SR)


def test_reference_clips_are_audible_and_never_clipped(tiny, tables):
    meta, _, _ = tables
    for filename in (f for f in meta if f.endswith("-a.wav")):
        y, _ = sf.read(tiny / filename)
        rms_db = 20 * np.log10(np.sqrt(np.mean(y**2)))
        assert np.isfinite(y).all()
        assert -55 < rms_db < -10, filename
        assert np.abs(y).max() < 0.99, filename


def test_every_component_makes_sound_of_the_right_length():
    rng = np.random.default_rng(0)
    for recipe in synthetic.SCENE_RECIPES.values():
        for part in recipe.parts.values():
            y = part.sound(rng, 4000, SR, **part.options)
            assert y.shape == (4000,) and np.isfinite(y).all()


def test_indoor_rooms_ring_longer_than_outdoor_places():
    recipes = synthetic.SCENE_RECIPES
    indoor = ("airport", "metro_station", "shopping_mall")
    outdoor = ("park", "public_square", "street_pedestrian", "street_traffic")
    assert min(recipes[s].rt60_s[0] for s in indoor) > max(recipes[s].rt60_s[0] for s in outdoor)


# --- arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"clips_per_class": 0}, "clips_per_class"),
        ({"clips_per_class": 1}, "clips_per_class"),
        ({"clips_per_class": 2.5}, "clips_per_class"),
        ({"duration": 0}, "duration"),
        ({"duration": -1.0}, "duration"),
        ({"duration": float("nan")}, "duration"),
        ({"sr": 4000}, "sr"),
        ({"seed": -1}, "seed"),
        ({"devices": ()}, "devices"),
        ({"devices": "abc"}, "devices"),
        ({"devices": ("a", "a")}, "repeat"),
        ({"devices": ("a", "B-2")}, "device names"),
        ({"devices": ("a", "")}, "device names"),
        ({"devices": ("a", "b"), "unseen_devices": ("s4",)}, "not among devices"),
        ({"devices": ("a", "b"), "unseen_devices": ("a",)}, "reference"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_scenes(tmp_path / "scenes", progress=False, **arguments)
    assert not (tmp_path / "scenes").exists()


def test_a_folder_of_other_audio_is_not_touched(tmp_path):
    foreign = tmp_path / "real" / "audio" / "airport-lisbon-0-0-a.wav"
    foreign.parent.mkdir(parents=True)
    sf.write(foreign, np.zeros(SR), SR)
    with pytest.raises(ValueError, match="not from make_synthetic_scenes"):
        make_synthetic_scenes(tmp_path / "real", clips_per_class=2, duration=0.1, sr=SR,
                              progress=False)
    assert foreign.is_file()


def test_a_smaller_remake_leaves_no_stale_clips(tmp_path):
    root = make_synthetic_scenes(tmp_path / "scenes", clips_per_class=4, duration=0.1, sr=SR,
                                 progress=False)
    make_synthetic_scenes(root, clips_per_class=2, duration=0.1, sr=SR, progress=False)
    _, meta = read_table(root / "meta.csv")
    assert sorted(f"audio/{p.name}" for p in (root / "audio").iterdir()) == sorted(
        row["filename"] for row in meta
    )


def test_command_line_writes_the_data_set(tmp_path, capsys):
    from importlib.util import module_from_spec, spec_from_file_location

    script = Path(__file__).resolve().parents[1] / "data_scripts" / "make_synthetic_scenes.py"
    spec = spec_from_file_location("make_synthetic_scenes_cli", script)
    cli = module_from_spec(spec)
    spec.loader.exec_module(cli)
    root = tmp_path / "cli"
    code = cli.main(["--root", str(root), "--clips-per-class", "2", "--duration", "0.1",
                     "--sr", str(SR), "--seed", "5", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert (root / "meta.csv").is_file() and "seed=5" in (root / "README.md").read_text()
    assert "Wrote" in out and "train" in out and "evaluate" in out
    assert cli.main(["--root", str(tmp_path / "bad"), "--duration", "0"]) == 2
