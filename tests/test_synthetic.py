"""Tests of the offline scene synthesiser, the TAU-layout data set it writes, and its version."""

from __future__ import annotations

import ast
import re
import shutil
from collections import Counter
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioprune_lite import data, synthetic
from audioprune_lite.data import SCENE_CLASSES, SCENE_TABLES, load_scenes, scene_table_path
from audioprune_lite.synthetic import (
    CITIES,
    DEFAULT_UNSEEN_DEVICES,
    make_synthetic_scenes,
    plan_clips,
    synthesize_scene,
    writer,
)

SR = 16000
DURATION = 0.25
TINY = {"clips_per_class": 6, "duration": DURATION, "sr": SR, "progress": False}
FILENAME = re.compile(
    rf"^audio/({'|'.join(SCENE_CLASSES)})-({'|'.join(CITIES)})-(\d+)-(\d+)-([a-z0-9]+)\.wav$"
)
PACKAGE = Path(synthetic.__file__).parent


def all_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_synthetic_scenes(tmp_path_factory.mktemp("tiny") / "scenes", seed=0, **TINY)


@pytest.fixture(scope="module")
def tables(tiny):
    """The whole data set and its two labelled splits, as the TAU loader reads them."""
    return load_scenes(tiny, "all"), load_scenes(tiny, "train"), load_scenes(tiny, "evaluate")


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
    assert on_disk == sorted(meta["filename"])
    for row in meta.itertuples():
        scene, city, location, _segment, device = FILENAME.match(row.filename).groups()
        assert (row.scene_label, row.identifier, row.source_label) == (
            scene, f"{city}-{location}", device)


def test_tables_are_written_with_the_layout_of_data(tiny):
    for table, columns in SCENE_TABLES.items():
        first_line = scene_table_path(tiny, table).read_text(encoding="utf-8").splitlines()[0]
        assert first_line == "\t".join(columns)


def test_the_package_spells_no_table_or_column_of_its_own():
    """The layout is defined once, in data: no string in the synthesiser's code names a column."""
    names = {column for columns in SCENE_TABLES.values() for column in columns}
    names |= {"meta.csv", "evaluation_setup"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        spelled = [node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and id(node) not in docstrings
                   and isinstance(node.value, str)
                   and (node.value in names or node.value.startswith("fold1_")
                        or "\t".join(SCENE_TABLES["train"]) in node.value)]
        assert spelled == [], path.name


def test_splits_partition_the_clips_and_test_lists_the_evaluate_files(tables, tiny):
    meta, train, evaluate = tables
    assert sorted([*train["filename"], *evaluate["filename"]]) == sorted(meta["filename"])
    assert load_scenes(tiny, "test")["filename"].tolist() == evaluate["filename"].tolist()


def test_readme_says_what_the_data_is(tiny):
    text = (tiny / "README.md").read_text(encoding="utf-8")
    assert "Synthetic" in text and "make_synthetic_scenes" in text and "seed=0" in text


# --- splits and devices ---------------------------------------------------------------------

def test_no_location_is_in_both_splits(tables):
    _, train, evaluate = tables
    assert len(train) and len(evaluate)
    assert not set(train["identifier"]) & set(evaluate["identifier"])


def test_every_class_is_in_both_splits(tables):
    _, train, evaluate = tables
    assert set(train["scene_label"]) == set(evaluate["scene_label"]) == set(SCENE_CLASSES)


def test_unseen_devices_are_only_evaluated_and_a_dominates_training(tables):
    _, train, evaluate = tables
    train_devices = Counter(train["source_label"])
    evaluate_devices = Counter(evaluate["source_label"])
    assert set(train_devices) == {"a", "b", "c"}
    assert train_devices["a"] > train_devices["b"] + train_devices["c"]
    assert set(evaluate_devices) == {"a", "b", "c", *DEFAULT_UNSEEN_DEVICES}
    assert len(set(evaluate_devices.values())) == 1  # balanced over devices
    assert data.device_split(train, evaluate) == (["a", "b", "c"], list(DEFAULT_UNSEEN_DEVICES))


def test_default_sizes():
    clips = plan_clips(100)
    train = Counter(clip.device for clip in clips if clip.split == "train")
    evaluate = Counter(clip.device for clip in clips if clip.split == "evaluate")
    assert train == {"a": 880, "b": 150, "c": 150}
    assert evaluate == {device: 120 for device in ("a", "b", "c", "s4", "s5", "s6")}


def test_devices_record_the_same_segment(tiny, tables):
    """As in TAU, all devices of an evaluate segment hear the same scene."""
    meta, _, evaluate = tables
    stem = evaluate["filename"][0].rsplit("-", 1)[0]
    reference, _ = sf.read(tiny / f"{stem}-a.wav")
    consumer, _ = sf.read(tiny / f"{stem}-b.wav")
    other_segment = next(f for f in meta["filename"]
                         if f.endswith("-a.wav") and not f.startswith(stem))
    unrelated, _ = sf.read(tiny / other_segment)
    assert np.corrcoef(reference, consumer)[0, 1] > 0.8
    assert abs(np.corrcoef(reference, unrelated)[0, 1]) < 0.3


def test_other_device_names_work_and_keep_their_responses(tmp_path):
    root = make_synthetic_scenes(tmp_path / "custom", clips_per_class=2, duration=0.1, sr=SR,
                                 devices=("ref", "phone", "x9"), unseen_devices=("x9",),
                                 progress=False)
    assert set(load_scenes(root, "train")["source_label"]) == {"ref", "phone"}
    assert set(load_scenes(root, "all")["source_label"]) == {"ref", "phone", "x9"}
    assert synthetic.device_response("x9", seed=0) == synthetic.device_response("x9", seed=0)
    assert synthetic.device_response("x9", seed=0) != synthetic.device_response("x9", seed=1)
    assert synthetic.device_response("ref", reference=True) == synthetic.DEVICE_RESPONSES["a"]


# --- audio ---------------------------------------------------------------------------------

def test_files_have_the_requested_format(tiny, tables):
    meta, _, _ = tables
    for filename in meta["filename"][::7]:
        info = sf.info(tiny / filename)
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert info.frames == round(DURATION * SR)


def test_reference_clips_are_audible_and_never_clipped(tiny, tables):
    meta, _, _ = tables
    for filename in (f for f in meta["filename"] if f.endswith("-a.wav")):
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


def test_every_class_has_a_recipe():
    assert set(synthetic.SCENE_RECIPES) == set(SCENE_CLASSES)


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
    assert sorted(f"audio/{p.name}" for p in (root / "audio").iterdir()) == sorted(
        load_scenes(root, "all")["filename"]
    )


def test_command_line_writes_the_data_set(tmp_path, capsys):
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
    assert "Wrote 80 clips" in out and "train       20 clips (a: 10, b: 10)" in out
    assert "evaluate    60 clips (a: 10, b: 10, c: 10, s4: 10, s5: 10, s6: 10)" in out
    assert cli.main(["--root", str(tmp_path / "bad"), "--duration", "0"]) == 2


# --- the book's data set in the store --------------------------------------------------------

def test_the_version_changes_with_any_file_of_the_package(tmp_path, monkeypatch):
    before = synthetic.data_set_version()
    copy = tmp_path / "synthetic"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(synthetic, "__path__", [str(copy)])
    assert synthetic.data_set_version() == before  # the place of the files does not matter
    for module in ("dsp.py", "sounds.py", "writer.py"):
        path = copy / module
        path.write_text(path.read_text() + "\n# edited\n")
        assert synthetic.data_set_version() != before, module
        before = synthetic.data_set_version()


def test_the_version_changes_with_the_layout_module(tmp_path, monkeypatch):
    before = synthetic.data_set_version()
    edited = tmp_path / "edited_data.py"
    edited.write_text(Path(data.__file__).read_text().replace('"scene_label"', '"scene"'))
    spec = spec_from_file_location("edited_data", edited)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(writer, "data", module)
    assert synthetic.data_set_version() != before


def test_default_scenes_are_made_once_and_never_left_half_written(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(tmp_path / "home"))
    calls = []

    def interrupted(root, progress):
        calls.append(root)
        (root / "audio").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "make_synthetic_scenes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        synthetic.default_scenes(progress=False)
    assert list((tmp_path / "home").iterdir()) == []

    def tiny(root, progress):
        calls.append(root)
        return make_synthetic_scenes(root, clips_per_class=2, duration=0.1, sr=SR, progress=False)

    monkeypatch.setattr(writer, "make_synthetic_scenes", tiny)
    first = synthetic.default_scenes(progress=False)
    second = synthetic.default_scenes(progress=False)
    assert first == second and len(calls) == 2
    assert first.name == f"synthetic-scenes-{synthetic.data_set_version()}"
    assert len(load_scenes(first, "all")) > 0
