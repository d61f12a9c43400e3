"""Download TAU Urban Acoustic Scenes 2020 Mobile, development (Chapter 7 / README: real data).

The data set is Zenodo record 3819968: 16 audio zips (about 27 GB in total) plus a
metadata zip and a documentation zip. Every file is checked against its published MD5
before it is extracted, downloads resume after an interruption, and running the script
again skips what is already done. The files land directly in ``--root`` in the layout
``audioprune_lite.data.load_scenes`` reads (``meta.csv``, ``audio/``,
``evaluation_setup/``).

Examples
--------
Everything (27 GB download, about as much again once extracted)::

    python data_scripts/download_tau2020_mobile.py --yes

Just the metadata and the first audio part (about 1.7 GB), e.g. for a course::

    python data_scripts/download_tau2020_mobile.py --only meta --parts 1 --yes

Exit codes: 0 done, 1 checksum, network or archive error (the message says which),
2 bad arguments or licence not accepted, 130 interrupted (run again to resume).

Where the pinned checksums and sizes come from
----------------------------------------------
The MD5 sums are the ones Zenodo publishes for record 3819968. They were copied from
two independent transcriptions, which agree on all 18 files:

* soundata, ``soundata/datasets/tau2020uas_mobile.py`` (``REMOTES``, keys
  ``development.*``), repository soundata/soundata, commits
  009ec15e0a0c4b7a8d8fc3f013cfbe212b2c1492 and ae93ef0df53786b0f41b0ad5ef6c0808f613491c;
* dcase_util, ``dcase_util/datasets/tut.py`` (class
  ``TAUUrbanAcousticScenes_2020_Mobile_DevelopmentSet``, ``package_list``: ``remote_md5``),
  repository DCASE-REPO/dcase_util, commit 03bd50808f86df35fda18df59f8d4bbdea7ee824.

The sizes in bytes are dcase_util's ``remote_bytes`` from the same place. The URL form
``https://zenodo.org/record/3819968/files/<name>?download=1`` is soundata's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audioprune_lite.download import RemoteFile, accept_license, fetch_for_command_line

ZENODO_URL = "https://zenodo.org/record/3819968/files"
BASE_NAME = "TAU-urban-acoustic-scenes-2020-mobile-development"
N_AUDIO_PARTS = 16

# part -> (MD5, size in bytes); file name f"{BASE_NAME}.{part}.zip". Sources: module docstring.
PINNED = {
    "meta": ("6eae9db553ce48e4ea246e34e50a3cf5", 214159),
    "doc": ("175f40dc3fec144347abad4d2962b7ae", 18066),
    "audio.1": ("b1e85b8a908d3d6a6ab73268f385d5c8", 1726039031),
    "audio.2": ("4310a13cc2943d6ce3f70eba7ba4c784", 1782268370),
    "audio.3": ("ed38956c4246abb56190c1e9b602b7b8", 1870468865),
    "audio.4": ("97ab8560056b6816808dedc044dcc023", 1879413176),
    "audio.5": ("b50f5e0bfed33cd8e52cb3e7f815c6cb", 1823936584),
    "audio.6": ("fbf856a3a86fff7520549c899dc94372", 1827246144),
    "audio.7": ("0dbffe7b6e45564da649378723284062", 1728630243),
    "audio.8": ("bb6f77832bf0bd9f786f965beb251b2e", 1748646043),
    "audio.9": ("a65596a5372eab10c78e08a0de797c9e", 1780487215),
    "audio.10": ("2ad595819ffa1d56d2de4c7ed43205a6", 1726068853),
    "audio.11": ("0ad29f7040a4e6a22cfd639b3a6738e5", 1744480272),
    "audio.12": ("e5f4400c6b9697295fab4cf507155a2f", 1738707195),
    "audio.13": ("8855ab9f9896422746ab4c5d89d8da2f", 1835797785),
    "audio.14": ("092ad744452cd3e7de78f988a3d13020", 1846390881),
    "audio.15": ("4b5eb85f6592aebf846088d9df76b420", 1869032508),
    "audio.16": ("2e0a89723e58a3836be019e6996ae460", 436971777),
}

# The licence of the data set, as distributed with it (Zenodo record 3819968; also
# reproduced in soundata's tau2020uas_mobile.py as LICENSE_INFO).
LICENSE = """\
TAU Urban Acoustic Scenes 2020 Mobile: free for academic, non-commercial use only.
License permits free academic usage. Any commercial use is strictly prohibited.
For commercial use, contact dataset authors.

    Copyright (c) 2020 Tampere University and its licensors
    All rights reserved.
    Permission is hereby granted, without written agreement and without license or royalty
    fees, to use and copy the TAU Urban Acoustic Scenes 2020 Mobile (“Work”) described in
    this document and composed of audio and metadata. This grant is only for experimental
    and non-commercial purposes, provided that the copyright notice in its entirety appear
    in all copies of this Work, and the original source of this Work, (Audio Research Group
    at Tampere University of Technology), is acknowledged in any publication that reports
    research using this Work.
    Any commercial use of the Work or any part thereof is strictly prohibited.
    Commercial use include, but is not limited to:
    - selling or reproducing the Work
    - selling or distributing the results or content achieved by use of the Work
    - providing services by using the Work.

    IN NO EVENT SHALL TAMPERE UNIVERSITY OR ITS LICENSORS BE LIABLE TO ANY PARTY
    FOR DIRECT, INDIRECT, SPECIAL, INCIDENTAL, OR CONSEQUENTIAL DAMAGES ARISING OUT OF THE
    USE OF THIS WORK AND ITS DOCUMENTATION, EVEN IF TAMPERE UNIVERSITY OR ITS
    LICENSORS HAS BEEN ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

    TAMPERE UNIVERSITY AND ALL ITS LICENSORS SPECIFICALLY DISCLAIMS ANY
    WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
    FITNESS FOR A PARTICULAR PURPOSE. THE WORK PROVIDED HEREUNDER IS ON AN "AS IS" BASIS,
    AND THE TAMPERE UNIVERSITY HAS NO OBLIGATION TO PROVIDE MAINTENANCE, SUPPORT,
    UPDATES, ENHANCEMENTS, OR MODIFICATIONS.

Cite: A. Mesaros, T. Heittola, T. Virtanen, "Acoustic scene classification in DCASE 2020
Challenge: generalization across devices and low complexity solutions", DCASE 2020.
"""


def tau_files(parts, base_url: str = ZENODO_URL, pinned=None) -> list[RemoteFile]:
    """The files to fetch for the given parts, with their pinned MD5s and sizes.

    Used by ``main`` below (Chapter 7 / README: real data).

    Parameters
    ----------
    parts : iterable of str
        Keys of :data:`PINNED`: ``"meta"``, ``"doc"``, ``"audio.1"`` ... ``"audio.16"``.
    base_url : str
        The folder URL the files are under (Zenodo by default).
    pinned : dict or None
        ``{part: (md5, size)}``; :data:`PINNED` when None (the tests pass their own).

    Returns
    -------
    list of RemoteFile
        The metadata zip must hold ``meta.csv`` (what ``main`` checks after extracting).
    """
    pinned = PINNED if pinned is None else pinned
    files = []
    for part in parts:
        md5, size = pinned[part]
        name = f"{BASE_NAME}.{part}.zip"
        members = (f"{BASE_NAME}/meta.csv",) if part == "meta" else ()
        files.append(RemoteFile(name, f"{base_url.rstrip('/')}/{name}?download=1", md5, size,
                                expected_members=members))
    return files


def selected_parts(only, audio_parts) -> list[str]:
    """The parts a command line asks for: ``--only`` kinds plus ``--parts`` audio parts.

    With neither option everything is selected; ``--parts`` implies ``--only audio``.
    """
    kinds = set(only or [])
    if audio_parts:
        kinds.add("audio")
    if not kinds:
        kinds = {"meta", "doc", "audio"}
    parts = [kind for kind in ("meta", "doc") if kind in kinds]
    if "audio" in kinds:
        numbers = audio_parts or range(1, N_AUDIO_PARTS + 1)
        parts += [f"audio.{number}" for number in numbers]
    return parts


def _audio_part_list(text: str) -> list[int]:
    """Parse ``--parts 1,2,3`` into sorted part numbers; argparse turns errors into exit 2."""
    try:
        numbers = sorted({int(item) for item in text.split(",") if item.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,2,3, got {text!r}") from None
    bad = [n for n in numbers if not 1 <= n <= N_AUDIO_PARTS]
    if bad or not numbers:
        raise argparse.ArgumentTypeError(
            f"audio parts are numbered 1 to {N_AUDIO_PARTS}, got {text!r}"
        )
    return numbers


def build_parser() -> argparse.ArgumentParser:
    """The command line's options (see the module docstring for examples)."""
    parser = argparse.ArgumentParser(
        description="Download TAU Urban Acoustic Scenes 2020 Mobile, development set "
                    "(Zenodo 3819968, 27 GB). Licence: non-commercial use only.",
        epilog="Example, metadata + audio part 1 only: --only meta --parts 1",
    )
    parser.add_argument("--root", type=Path, default=Path("data/tau2020mobile"),
                        help="folder for the data set (default: data/tau2020mobile)")
    parser.add_argument("--only", action="append", choices=["meta", "doc", "audio"],
                        help="fetch only this kind of file; repeat to combine")
    parser.add_argument("--parts", type=_audio_part_list, default=None,
                        help=f"audio parts to fetch, e.g. 1,2,3 (1-{N_AUDIO_PARTS})")
    parser.add_argument("--no-extract", action="store_true",
                        help="only download the zip files, do not extract them")
    parser.add_argument("--keep-archives", action="store_true",
                        help="keep each zip after extracting it")
    parser.add_argument("--base-url", default=ZENODO_URL,
                        help=f"server folder holding the files (default: {ZENODO_URL})")
    parser.add_argument("--yes", action="store_true",
                        help="accept the licence without being asked")
    return parser


def main(argv=None, *, pinned=None) -> int:
    """Run the command line; return the exit code (0 ok, 1 download error, 2 usage).

    ``pinned`` replaces :data:`PINNED` (the tests serve small fake zips with their own
    checksums).
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage error (code 2) or --help (0)
        return int(stop.code or 0)
    parts = selected_parts(args.only, args.parts)
    files = tau_files(parts, args.base_url, pinned)
    if not accept_license(LICENSE, args.yes):
        return 2
    total = sum(remote.size or 0 for remote in files)
    print(f"{len(files)} file(s), {total / 1e9:.1f} GB to download into {args.root}")
    code = fetch_for_command_line(files, args.root, extract=not args.no_extract,
                                  keep_archives=args.keep_archives, strip_prefix=f"{BASE_NAME}/")
    if code:
        return code
    if args.no_extract:
        print(f"\nDone: the zip files are in {args.root}.")
        return 0
    if "meta" in parts and not (args.root / "meta.csv").is_file():
        print(f"error: the metadata zip did not yield {args.root / 'meta.csv'}", file=sys.stderr)
        return 1
    print(f"\nDone: the data set is in {args.root}. Load it with\n"
          f"    import audioprune_lite.data\n"
          f"    audioprune_lite.data.load_scenes({str(args.root)!r}, \"train\")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
