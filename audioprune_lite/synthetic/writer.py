"""The offline data set on disk: which clips it holds, their audio, and the TAU tables.

``plan_clips`` decides the clips (classes, locations, splits, devices) without any audio;
``make_synthetic_scenes`` renders every segment once, records it with each of its devices and
writes the WAV files, ``README.md`` and the tables of the TAU layout (through
:func:`audioprune_lite.data.write_scene_tables`); ``default_scenes`` keeps the book's data set
in the store, under a name that changes with the code that makes it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from .. import data
from ..data import SCENE_CLASSES, scene_table_path, write_scene_tables
from ..store import cache_home, code_fingerprint, staged_folder
from .devices import apply_device, device_response
from .dsp import KEY_CITY, KEY_DEVICE_NOISE, KEY_SPLIT, name_key, seeded_rng
from .scenes import synthesize_scene

CITIES = (
    "barcelona",
    "helsinki",
    "lisbon",
    "london",
    "lyon",
    "milan",
    "paris",
    "prague",
    "stockholm",
    "vienna",
)
"""The ten cities of TAU Urban Acoustic Scenes 2020 Mobile (development set)."""

DEFAULT_DEVICES = ("a", "b", "c", "s4", "s5", "s6")
"""Default devices: ``a`` reference, ``b`` and ``c`` consumer devices, ``s4``-``s6`` simulated."""

DEFAULT_UNSEEN_DEVICES = ("s4", "s5", "s6")
"""Devices that appear only in the evaluate split of the default data set."""

SEGMENTS_PER_LOCATION = 2
"""Scene segments recorded at each location (the last locations of a class may have fewer)."""

EVALUATE_LOCATION_FRACTION = 1 / 8
"""Share of each class's locations held out for the evaluate split (at least one, never all)."""

EXTRA_DEVICE_EVERY = 3
"""Every third training segment is also rendered on one other training device (b, c, ...)."""

README_MARKER = "# Synthetic acoustic scenes"
"""First line of the ``README.md`` of every data set made here (a real data set lacks it)."""

_DEVICE_NAME = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True)
class Clip:
    """One audio file of the data set: a scene segment as recorded by one device."""

    scene: str
    city: str
    location: int
    segment: int
    device: str
    split: str  # "train" or "evaluate"

    @property
    def filename(self) -> str:
        """Path relative to the data-set root, as in TAU.

        ``audio/<scene>-<city>-<location>-<segment>-<device>.wav``
        """
        return f"audio/{self.scene}-{self.city}-{self.location}-{self.segment}-{self.device}.wav"

    @property
    def identifier(self) -> str:
        """The recording location, as in TAU: ``<city>-<location>``."""
        return f"{self.city}-{self.location}"


def plan_clips(
    clips_per_class: int,
    devices: Sequence[str] = DEFAULT_DEVICES,
    unseen_devices: Sequence[str] = DEFAULT_UNSEEN_DEVICES,
    seed: int = 0,
) -> list[Clip]:
    """The clips of the data set, without any audio.

    Each class has ``clips_per_class`` scene segments, spread over locations of
    ``SEGMENTS_PER_LOCATION`` segments (at least two locations). A share
    ``EVALUATE_LOCATION_FRACTION`` of the locations (at least one, never all) forms the evaluate
    split, so no location is in both splits. As in TAU, where the devices recorded the same
    segments side by side:

    * an evaluate segment is rendered on every device (the split is balanced over devices);
    * a training segment is rendered on the reference device ``devices[0]``, and every
      ``EXTRA_DEVICE_EVERY``-th one also on one of the other devices that are not in
      ``unseen_devices``, taking turns; unseen devices never appear in training.
    """
    reference, *others = devices
    seen_others = [device for device in others if device not in unseen_devices]
    n_locations = max(2, -(-clips_per_class // SEGMENTS_PER_LOCATION))
    n_evaluate = min(n_locations - 1, max(1, round(n_locations * EVALUATE_LOCATION_FRACTION)))
    clips = []
    for class_index, scene in enumerate(SCENE_CLASSES):
        locations = 1000 + class_index * n_locations + np.arange(n_locations)
        split_rng = seeded_rng(seed, KEY_SPLIT, class_index)
        evaluate_locations = set(split_rng.choice(locations, n_evaluate, replace=False).tolist())
        n_train = 0
        for index in range(clips_per_class):
            location = int(locations[index % n_locations])
            segment = index // n_locations
            city = CITIES[seeded_rng(seed, KEY_CITY, location).integers(len(CITIES))]
            if location in evaluate_locations:
                split, recorded_by = "evaluate", list(devices)
            else:
                split, recorded_by = "train", [reference]
                if seen_others and n_train % EXTRA_DEVICE_EVERY == 0:
                    turn = n_train // EXTRA_DEVICE_EVERY % len(seen_others)
                    recorded_by.append(seen_others[turn])
                n_train += 1
            clips += [Clip(scene, city, location, segment, device, split) for device in recorded_by]
    return clips


def _check_arguments(clips_per_class, duration, sr, devices, unseen_devices, seed) -> None:
    """Raise ``ValueError`` with a clear message for an argument that cannot be used."""
    if isinstance(clips_per_class, bool) or not isinstance(clips_per_class, (int, np.integer)):
        raise ValueError(f"clips_per_class must be an integer, got {clips_per_class!r}")
    if clips_per_class < 2:
        raise ValueError(
            f"clips_per_class must be at least 2 (one training and one evaluate location), "
            f"got {clips_per_class}"
        )
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr < 8000:
        raise ValueError(f"sr must be an integer sample rate of at least 8000 Hz, got {sr!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(devices, str) or len(devices) == 0:
        raise ValueError(f"devices must be a non-empty sequence of device names, got {devices!r}")
    for device in devices:
        if not isinstance(device, str) or not _DEVICE_NAME.match(device):
            raise ValueError(
                f"device names must be lower-case letters and digits (they go into file names), "
                f"got {device!r}"
            )
    if len(set(devices)) != len(devices):
        raise ValueError(f"devices must not repeat, got {devices!r}")
    if isinstance(unseen_devices, str):
        raise ValueError(
            f"unseen_devices must be a sequence of device names, got {unseen_devices!r}"
        )
    unknown = [device for device in unseen_devices if device not in devices]
    if unknown:
        raise ValueError(f"unseen devices {unknown} are not among devices {tuple(devices)}")
    if devices[0] in unseen_devices:
        raise ValueError(
            f"the reference device {devices[0]!r} (the first of devices) cannot be unseen"
        )


def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    """Save float samples (full scale 1) as a mono 16-bit PCM WAV file.

    The samples are rounded and limited to full scale here, so the file does not depend on how
    the audio library converts floats. The file is assembled in memory and written at once,
    which is much faster than letting the library write (and flush) it piece by piece.
    """
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sr, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def _remove_stale_audio(root: Path, clips: Sequence[Clip]) -> None:
    """Delete WAV files that an earlier synthetic set left in ``root/audio`` and this one lacks.

    Refuses (``ValueError``) to touch a folder that was not made by this module, so that a real
    data set is never overwritten by mistake.
    """
    wanted = {Path(clip.filename).name for clip in clips}
    stale = sorted(p for p in (root / "audio").glob("*.wav") if p.name not in wanted)
    if not stale:
        return
    readme = root / "README.md"
    if not (readme.is_file() and readme.read_text(encoding="utf-8").startswith(README_MARKER)):
        raise ValueError(
            f"{root} already holds audio that is not from make_synthetic_scenes; choose an empty "
            f"or new folder"
        )
    for path in stale:
        path.unlink()


def _readme(clips: Sequence[Clip], arguments: dict) -> str:
    """The text of ``root/README.md``: what the data is and how to make it again."""
    lines = []
    for split in ("train", "evaluate"):
        in_split = [clip for clip in clips if clip.split == split]
        by_device = ", ".join(
            f"{device}: {sum(clip.device == device for clip in in_split)}"
            for device in arguments["devices"]
            if any(clip.device == device for clip in in_split)
        )
        lines.append(f"- {split}: {len(in_split)} clips ({by_device})")
    per_split = "\n".join(lines)
    call = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
    return (
        f"{README_MARKER}\n\n"
        "Synthetic audio, not recordings: every clip is a random mix of synthesised sounds\n"
        "(noise, voices, announcements, music, engines, cars, footsteps, rail clicks, birds,\n"
        "horns, wind) with room reverberation and a simulated recording device. The folder has\n"
        "the layout of the TAU Urban Acoustic Scenes 2020 Mobile development set (audio/,\n"
        "meta.csv, evaluation_setup/fold1_*.csv).\n\n"
        "Made by `audioprune_lite.synthetic.make_synthetic_scenes` with\n"
        f"`{call}`; the same arguments give the same files.\n\n"
        f"{per_split}\n"
    )


def make_synthetic_scenes(
    root: str | Path,
    *,
    clips_per_class: int = 100,
    duration: float = 1.0,
    sr: int = 44100,
    devices: Sequence[str] = DEFAULT_DEVICES,
    unseen_devices: Sequence[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a synthetic acoustic-scene data set in the TAU Urban Acoustic Scenes 2020 layout.

    Files written under ``root``:

    * ``audio/<scene>-<city>-<location>-<segment>-<device>.wav``: mono 16-bit PCM;
    * ``meta.csv`` and ``evaluation_setup/fold1_{train,evaluate,test}.csv``, the tables of
      :data:`audioprune_lite.data.SCENE_TABLES`: a clip's ``identifier`` is its location
      ``<city>-<location>``, its ``source_label`` the device, and the test list holds the
      evaluate files without labels;
    * ``README.md``: what the data is and the arguments that made it.

    With the defaults: 100 segments per class at 50 locations (two segments each), 6 of them
    held out for evaluation; 1,180 training clips (880 on device ``a``, 150 each on ``b`` and
    ``c``) and 720 evaluate clips (120 on each of the six devices); 1 s each.

    Parameters
    ----------
    root : str or pathlib.Path
        Output folder (created if needed).
    clips_per_class : int
        Number of scene segments per class, at least 2. Each segment is rendered on one or
        more devices (see ``plan_clips``), so the number of files is larger.
    duration : float
        Length of each clip in seconds.
    sr : int
        Sample rate in Hz, at least 8000.
    devices : sequence of str
        Device names (lower-case letters and digits); the first is the reference device that
        dominates training.
    unseen_devices : sequence of str or None
        Devices kept out of training (they appear only in the evaluate split). None means those
        of ``DEFAULT_UNSEEN_DEVICES`` that are in ``devices``.
    seed : int
        Seed of all random draws; the same arguments give byte-identical files.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``root``, as an absolute path.

    Raises
    ------
    ValueError
        For an argument out of range, or a ``root`` holding audio from elsewhere.
    """
    if unseen_devices is None:
        unseen_devices = tuple(d for d in DEFAULT_UNSEEN_DEVICES if d in devices)
    _check_arguments(clips_per_class, duration, sr, devices, unseen_devices, seed)
    devices, unseen_devices = tuple(devices), tuple(unseen_devices)
    root = Path(root).resolve()
    clips = plan_clips(int(clips_per_class), devices, unseen_devices, int(seed))
    _remove_stale_audio(root, clips)
    (root / "audio").mkdir(parents=True, exist_ok=True)

    responses = {d: device_response(d, seed, reference=(d == devices[0])) for d in devices}
    segments: dict[tuple[str, int, int], list[Clip]] = {}
    for clip in clips:
        segments.setdefault((clip.scene, clip.location, clip.segment), []).append(clip)
    for (scene, location, segment), recordings in tqdm(
        segments.items(), desc="Synthesising scenes", unit="segment", disable=not progress
    ):
        scene_audio = synthesize_scene(
            scene, duration=duration, sr=sr, seed=seed, location=location, segment=segment
        )
        for clip in recordings:
            hiss_rng = seeded_rng(seed, KEY_DEVICE_NOISE, SCENE_CLASSES.index(scene), location,
                                  segment, name_key(clip.device))
            audio = apply_device(scene_audio, sr, responses[clip.device], hiss_rng)
            _write_wav(root / clip.filename, audio, sr)

    clips = sorted(clips, key=lambda clip: clip.filename)
    write_scene_tables(root, [(c.filename, c.scene, c.identifier, c.device) for c in clips],
                       train=[c.filename for c in clips if c.split == "train"],
                       evaluate=[c.filename for c in clips if c.split == "evaluate"])
    arguments = {"clips_per_class": int(clips_per_class), "duration": float(duration),
                 "sr": int(sr), "devices": devices, "unseen_devices": unseen_devices,
                 "seed": int(seed)}
    (root / "README.md").write_text(_readme(clips, arguments), encoding="utf-8")
    return root


def data_set_version() -> str:
    """The version of the offline data set: a hash of the code that makes and writes it.

    Every ``.py`` file of this package and :mod:`audioprune_lite.data` (which defines the TAU
    layout and writes its tables) go into it, so a change to any of them names a new data set.

    Returns
    -------
    str
        12 hexadecimal characters (see :func:`audioprune_lite.store.code_fingerprint`).
    """
    return code_fingerprint(import_module(__package__), data)


def default_scenes(progress: bool = True) -> Path:
    """The book's offline data set: made once with the default settings, then reused.

    The folder lives in :func:`audioprune_lite.store.cache_home` under a name that includes
    :func:`data_set_version`, so a change to the code that makes the data set makes a new
    one. It is written to a staging folder and renamed when complete
    (:func:`audioprune_lite.store.staged_folder`), so an interrupted run never leaves a
    half-made data set behind, and the staging folder of a run that was killed outright is
    removed by the next run.

    Used by: Chapter 1.

    The chapters that train a network reach it through
    :func:`audioprune_lite.experiments.default_features` (when no other data set is given).

    Parameters
    ----------
    progress : bool
        Show a progress bar while the clips are made.

    Returns
    -------
    pathlib.Path
        The data set's root folder, in the TAU 2020 Mobile layout (read it with
        :func:`audioprune_lite.data.load_scenes`).
    """
    root = cache_home() / f"synthetic-scenes-{data_set_version()}"
    if not scene_table_path(root, "meta").is_file():
        with staged_folder(root, prefix=".synthetic-scenes-") as staging:
            make_synthetic_scenes(staging, progress=progress)
    return root
