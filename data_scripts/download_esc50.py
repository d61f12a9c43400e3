"""Download the ESC-50 environmental sound data set (Chapter 7 / README: real data).

ESC-50 (K. J. Piczak, 2015) is 2000 five-second clips in 50 classes, distributed as the
GitHub repository karolpiczak/ESC-50; its archive is about 600 MB. The script downloads
the archive of one fixed commit, extracts it directly into ``--root`` in the layout
``audioprune_lite.data.load_esc50`` reads (``meta/esc50.csv``, ``audio/``), and checks
that every clip listed in ``meta/esc50.csv`` is there.

Example::

    python data_scripts/download_esc50.py --yes

Exit codes: 0 done, 1 checksum, network or archive error (the message says which),
2 bad arguments or licence not accepted, 130 interrupted (run again to resume).

About the checksum
------------------
GitHub generates repository archives on request and publishes no checksum for them.
soundata (``soundata/datasets/esc50.py``, repository soundata/soundata, commit
009ec15e0a0c4b7a8d8fc3f013cfbe212b2c1492) pins ``7771e4b9d86d0945acce719c7a59305a``,
but for ``.../archive/master.zip``, the archive of a moving branch: soundata issue #208
(June 2025) reports that sum no longer matching (the archive changes with every commit),
and soundata pull request #209 switched to a commit URL. That newer pin could not be
read, and other projects pin two different sums for the commit archive used here, so no
sum is pinned: by default the script verifies the archive's structure instead (the zip's
central directory, which a cut download lacks, and the metadata table before the archive
is kept; the table's 2000 clips after extraction) and prints the archive's MD5 for you to
record.
Pass ``--md5 <sum>`` to have the archive checked against a sum you trust. The archive
of a fixed commit keeps the content fixed, which a branch archive does not.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

from audioprune_lite.download import RemoteFile, accept_license, fetch_for_command_line

GITHUB_URL = "https://github.com/karolpiczak/ESC-50/archive"
# A fixed commit of karolpiczak/ESC-50: its newest as of November 2025, as pinned by other
# projects. The data themselves last changed in v2.0.0 (2017, see the README's changelog).
COMMIT = "33c8ce9eb2cf0b1c2f8bcf322eb349b6be34dbb6"
N_CLIPS = 2000

LICENSE = """\
ESC-50: Dataset for Environmental Sound Classification, K. J. Piczak (2015).
The dataset is available under the terms of the Creative Commons Attribution
Non-Commercial license (CC BY-NC 3.0, http://creativecommons.org/licenses/by-nc/3.0/).
A smaller subset (clips tagged as ESC-10) is distributed under CC BY (Attribution).
Attributions for each clip are in the LICENSE file of the data set.
(Licence section of https://github.com/karolpiczak/ESC-50/blob/master/README.md)

Cite: K. J. Piczak, "ESC: Dataset for Environmental Sound Classification",
Proceedings of the 23rd Annual ACM Conference on Multimedia, Brisbane, 2015.
"""


def esc50_file(base_url: str = GITHUB_URL, md5: str | None = None) -> RemoteFile:
    """The archive of ESC-50 at :data:`COMMIT` (Chapter 7 / README: real data).

    Parameters
    ----------
    base_url : str
        The folder URL of the repository's archives (GitHub by default).
    md5 : str or None
        The MD5 to check the archive against; None checks the structure only (the
        archive must be a whole zip holding ``meta/esc50.csv``).
    """
    name = f"ESC-50-{COMMIT}.zip"
    return RemoteFile(name, f"{base_url.rstrip('/')}/{COMMIT}.zip", md5,
                      expected_members=(f"ESC-50-{COMMIT}/meta/esc50.csv",))


def layout_problems(root: Path) -> list[str]:
    """What is wrong with an extracted ESC-50 folder; an empty list when it looks right.

    Checks that ``meta/esc50.csv`` lists :data:`N_CLIPS` clips and that each of them is
    in ``audio/``.
    """
    table = root / "meta" / "esc50.csv"
    if not table.is_file():
        return [f"{table} is missing"]
    with open(table, newline="") as file:
        reader = csv.DictReader(file)
        if "filename" not in (reader.fieldnames or []):
            return [f"{table} has no column 'filename'"]
        names = [row["filename"] for row in reader]
    problems = []
    if len(names) != N_CLIPS:
        problems.append(f"{table} lists {len(names)} clips, expected {N_CLIPS}")
    missing = [name for name in names if not (root / "audio" / name).is_file()]
    if missing:
        problems.append(f"{len(missing)} clips are missing from {root / 'audio'}, "
                        f"e.g. {missing[0]}")
    return problems


def _md5_text(text: str) -> str:
    """Check an ``--md5`` value: 32 hex digits; argparse turns errors into exit 2."""
    if not re.fullmatch(r"[0-9a-fA-F]{32}", text):
        raise argparse.ArgumentTypeError(f"an MD5 is 32 hex digits, got {text!r}")
    return text.lower()


def build_parser() -> argparse.ArgumentParser:
    """The command line's options (see the module docstring for examples)."""
    parser = argparse.ArgumentParser(
        description="Download ESC-50 (about 600 MB) from GitHub. "
                    "Licence: CC BY-NC 3.0, non-commercial use only.",
    )
    parser.add_argument("--root", type=Path, default=Path("data/esc50"),
                        help="folder for the data set (default: data/esc50)")
    parser.add_argument("--md5", type=_md5_text, default=None,
                        help="check the archive against this MD5 (none is published)")
    parser.add_argument("--no-extract", action="store_true",
                        help="only download the zip file, do not extract it")
    parser.add_argument("--keep-archives", action="store_true",
                        help="keep the zip after extracting it")
    parser.add_argument("--base-url", default=GITHUB_URL,
                        help=f"server folder holding the archive (default: {GITHUB_URL})")
    parser.add_argument("--yes", action="store_true",
                        help="accept the licence without being asked")
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit code (0 ok, 1 download error, 2 usage)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage error (code 2) or --help (0)
        return int(stop.code or 0)
    if not accept_license(LICENSE, args.yes):
        return 2
    remote = esc50_file(args.base_url, args.md5)
    code = fetch_for_command_line([remote], args.root, extract=not args.no_extract,
                                  keep_archives=args.keep_archives, strip_prefix=f"ESC-50-{COMMIT}/")
    if code:
        return code
    if args.no_extract:
        print(f"\nDone: the zip file is in {args.root}.")
        return 0
    problems = layout_problems(args.root)
    if problems:
        print("error: the extracted archive does not look like ESC-50: " + "; ".join(problems),
              file=sys.stderr)
        return 1
    print(f"\nDone: ESC-50 ({N_CLIPS} clips) is in {args.root}. Load it with\n"
          f"    import audioprune_lite.data\n"
          f"    audioprune_lite.data.load_esc50({str(args.root)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
