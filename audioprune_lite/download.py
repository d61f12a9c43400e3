"""Download and unpack the real data sets: resumable, checksummed, safe to extract.

Used by ``data_scripts/download_tau2020_mobile.py`` and ``data_scripts/download_esc50.py``
(the README's real data). Everything here uses the standard library plus ``tqdm``
for progress bars, so it works wherever the course's requirements are installed.

The guarantees, in the order a download goes through them:

1. A file is streamed to ``<dest>.part``. If that file exists (an earlier run was cut
   off), the download resumes where it stopped with an HTTP ``Range`` request.
2. When the download is complete, its MD5 is checked. A wrong file is deleted and
   :class:`ChecksumError` says so.
3. Only a verified file is renamed to ``dest`` (``os.replace``, atomic), so ``dest``
   never holds half a file.
4. :func:`safe_extract` checks every member name of an archive before it writes
   anything, and writes each member under a temporary name first.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from .store import atomic_write

__all__ = [
    "ChecksumError",
    "RemoteFile",
    "UnsafeArchiveError",
    "accept_license",
    "download",
    "fetch_archives",
    "fetch_for_command_line",
    "md5sum",
    "safe_extract",
]

USER_AGENT = "audioprune-lite-download (python urllib)"
CHUNK = 1 << 20  # 1 MiB: the read size for hashing and streaming


class ChecksumError(ValueError):
    """A downloaded file's MD5 differs from the expected one (the file has been removed)."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the destination folder, or is a link."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where it lives and how to check it.

    Used by ``data_scripts/`` to list a data set's files.

    Attributes
    ----------
    name : str
        File name to save the download under.
    url : str
        Where to download it from.
    md5 : str or None
        The published MD5 (32 hex digits), or None when nobody publishes one.
    size : int or None
        Size in bytes if published; only used to tell the user how much to expect.
    """

    name: str
    url: str
    md5: str | None
    size: int | None = None


def md5sum(path, chunk: int = CHUNK) -> str:
    """Return the MD5 of a file as 32 lowercase hex digits, reading it in chunks.

    Used by :func:`download` and ``data_scripts/``.

    Parameters
    ----------
    path : str or Path
        The file to hash.
    chunk : int
        How many bytes to read at a time; memory use stays at one chunk.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while block := file.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest, md5: str | None = None, *, progress: bool = True,
             timeout: float = 60) -> Path:
    """Download ``url`` to ``dest``, resuming an interrupted download and checking its MD5.

    Used by :func:`fetch_archives` and ``data_scripts/``.

    The bytes go to ``dest`` + ``".part"`` first. If that file exists, the request asks for
    the missing bytes only (``Range: bytes=N-``); a server that answers with the whole file
    (status 200) makes the download start again from zero, and a server that answers 416
    (nothing left to send) means the part file is already complete. After the MD5 check
    the part file is renamed to ``dest`` in one atomic step.

    Parameters
    ----------
    url : str
        The address to fetch (http or https).
    dest : str or Path
        Where the finished file goes. Its folder is created if needed.
    md5 : str or None
        The expected MD5. If ``dest`` already exists and matches it, nothing is
        downloaded. With None the file is not checked (and an existing ``dest`` is kept).
    progress : bool
        Show a progress bar (``tqdm``).
    timeout : float
        Seconds to wait for the server before giving up (per connection or read).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The downloaded file's MD5 differs from ``md5``; the file has been removed.
    OSError
        A network error (``urllib.error.URLError``, a timeout), or the connection closed
        before the whole file arrived. The ``.part`` file is kept: call again to resume.
    """
    dest = Path(dest)
    if dest.exists() and (md5 is None or md5sum(dest) == md5.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    _fetch(url, part, progress=progress, timeout=timeout)
    if md5 is not None:
        got = md5sum(part)
        if got != md5.lower():
            part.unlink()
            raise ChecksumError(
                f"{dest.name}: MD5 mismatch (expected {md5.lower()}, got {got}); "
                f"the downloaded file {part} was removed. Run again to download it afresh."
            )
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, *, progress: bool, timeout: float) -> None:
    """Stream ``url`` into ``part``, continuing after the bytes ``part`` already holds."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not offset:
            raise
        # 416 "Range Not Satisfiable": nothing after byte `offset`. The answer's
        # Content-Range ("bytes */<size>") says whether the part file is complete.
        total = _total_from_content_range(error.headers.get("Content-Range", ""))
        error.close()
        if total in (None, offset):
            return
        part.unlink()  # the part file is longer than the remote file: start over
        _fetch(url, part, progress=progress, timeout=timeout)
        return
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header and sends the whole file
        remaining = response.length  # None when the server sends no Content-Length
        total = None if remaining is None else offset + remaining
        with open(part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress,
        ) as bar:
            while block := response.read(CHUNK):
                out.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size < total:
        raise ConnectionError(
            f"the connection closed after {size} of {total} bytes of {url}; "
            f"run again to resume from {part}"
        )


def _total_from_content_range(header: str) -> int | None:
    """The full size from a ``Content-Range`` header such as ``bytes */1234``, else None."""
    match = re.search(r"/(\d+)\s*$", header)
    return int(match.group(1)) if match else None


def _checked_target(name: str, dest: Path, strip_prefix: str) -> Path | None:
    """Where member ``name`` goes under ``dest``; None for ``dest`` itself (the stripped folder, ``.``).

    Raises :class:`UnsafeArchiveError` for absolute names, ``..`` components and names
    that would resolve outside ``dest``.
    """
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path; refused")
    if ".." in PurePosixPath(posix).parts:
        raise UnsafeArchiveError(f"archive member {name!r} contains '..'; refused")
    if strip_prefix and posix.startswith(strip_prefix):
        posix = posix[len(strip_prefix):]
    if not posix.strip("/"):
        return None
    target = (dest / posix).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise UnsafeArchiveError(f"archive member {name!r} would land outside {dest}; refused")
    return None if target == dest.resolve() else target


def _zip_members(archive: zipfile.ZipFile):
    """(name, is_dir, is_link, opener) for each member of a zip file."""
    for info in archive.infolist():
        is_link = stat.S_ISLNK(info.external_attr >> 16)
        yield info.filename, info.is_dir(), is_link, lambda info=info: archive.open(info)


def _tar_members(archive: tarfile.TarFile):
    """(name, is_dir, is_link, opener) for each member of a tar file.

    Anything that is neither a regular file nor a folder (links, devices) counts as a link.
    """
    for info in archive.getmembers():
        is_link = not (info.isfile() or info.isdir())
        yield info.name, info.isdir(), is_link, lambda info=info: archive.extractfile(info)


def safe_extract(archive, dest, *, strip_prefix: str = "") -> list[Path]:
    """Extract a zip or tar archive into ``dest``, refusing members that could escape it.

    Used by :func:`fetch_archives` and ``data_scripts/``.

    All member names are checked before anything is written: an absolute path, a ``..``
    component, a name resolving outside ``dest``, or a link (symbolic or hard: the data
    sets contain none) makes the whole archive refused. Each file is then written under a
    temporary name and renamed into place, so an interrupted extraction leaves no
    half-written file under a real name.

    Parameters
    ----------
    archive : str or Path
        A ``.zip`` file, or a tar file (``.tar``, ``.tar.gz``, ...).
    dest : str or Path
        The folder to extract into; created if needed. Existing files are overwritten.
    strip_prefix : str
        A leading folder such as ``"ESC-50-master/"`` to remove from the member names that
        start with it, so that folder's content lands directly in ``dest``.

    Returns
    -------
    list of Path
        The extracted files (not folders), in archive order.

    Raises
    ------
    UnsafeArchiveError
        A member is unsafe; its name is in the message and nothing has been written.
    ValueError
        ``archive`` is neither a zip nor a tar file.
    """
    archive, dest = Path(archive), Path(dest)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as opened:
            return _extract_members(_zip_members(opened), dest, strip_prefix)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as opened:
            return _extract_members(_tar_members(opened), dest, strip_prefix)
    raise ValueError(f"{archive} is neither a zip nor a tar archive")


def _extract_members(members, dest: Path, strip_prefix: str) -> list[Path]:
    """Check all ``members`` (from ``_zip_members``/``_tar_members``), then write them."""
    plan = []
    for name, is_dir, is_link, opener in members:
        if is_link:
            raise UnsafeArchiveError(f"archive member {name!r} is a link; refused")
        target = _checked_target(name, dest, strip_prefix)
        if target is None and not is_dir:
            raise UnsafeArchiveError(f"archive member {name!r} is a file that names {dest} "
                                     "itself; refused")
        if target is not None:
            plan.append((target, is_dir, opener))
    written = []
    for target, is_dir, opener in plan:
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        with opener() as source:
            atomic_write(target, lambda out, source=source: shutil.copyfileobj(source, out, CHUNK))
        written.append(target)
    return written

def fetch_archives(files, folder, *, extract: bool = True, keep_archives: bool = False,
                   strip_prefix: str = "", progress: bool = True) -> list[Path]:
    """Download archives into ``folder`` and extract them there, one after the other.

    Used by ``data_scripts/``.

    Each archive is downloaded with :func:`download` (resumable, MD5-checked), extracted
    with :func:`safe_extract`, and then deleted unless ``keep_archives``; one archive at a
    time, so the disk never holds more than one archive next to the extracted data. After
    a successful extraction an empty marker file ``.<name>.extracted`` is left in
    ``folder``, and a later run skips that archive, so an interrupted run can simply be
    started again. For a file without a published MD5 the computed one is printed, to be
    recorded.

    Parameters
    ----------
    files : sequence of RemoteFile
        What to fetch.
    folder : str or Path
        Where the archives and the extracted data go; created if needed.
    extract : bool
        Extract each archive after downloading it. With False the archives are only
        downloaded (and kept).
    keep_archives : bool
        Keep each archive after extracting it.
    strip_prefix : str
        Passed to :func:`safe_extract`: a leading folder to drop from member names.
    progress : bool
        Show progress bars.

    Returns
    -------
    list of Path
        The extracted files, or with ``extract=False`` the downloaded archives.

    Raises
    ------
    ChecksumError, UnsafeArchiveError, OSError
        As :func:`download` and :func:`safe_extract` raise them; files done so far stay.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for number, remote in enumerate(files, start=1):
        marker = folder / f".{remote.name}.extracted"
        if extract and marker.exists():
            print(f"[{number}/{len(files)}] {remote.name}: already extracted, skipped")
            continue
        print(f"[{number}/{len(files)}] {remote.name} from {remote.url}")
        archive = download(remote.url, folder / remote.name, remote.md5, progress=progress)
        if remote.md5 is None:
            print(f"    no published MD5 for {remote.name}; its MD5 is {md5sum(archive)} "
                  "(record it to check later downloads)")
        if not extract:
            results.append(archive)
            continue
        results.extend(safe_extract(archive, folder, strip_prefix=strip_prefix))
        marker.touch()
        if not keep_archives:
            archive.unlink()
    return results


def fetch_for_command_line(files, folder, **options) -> int:
    """:func:`fetch_archives` for a command line: returns its exit code and prints any error.

    Used by ``data_scripts/``.

    Returns
    -------
    int
        0 when done; 1 after a download, checksum or archive error (the message is
        printed); 130 when interrupted (running the same command again resumes).
    """
    try:
        fetch_archives(files, folder, **options)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        # ValueError includes ChecksumError and UnsafeArchiveError.
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def accept_license(text: str, yes: bool) -> bool:
    """Print a data set's licence and ask the user to accept it.

    Used by ``data_scripts/`` before anything is downloaded.

    Parameters
    ----------
    text : str
        The licence text.
    yes : bool
        The user accepted in advance (``--yes``); nothing is asked.

    Returns
    -------
    bool
        True if accepted: ``yes``, or the user typed yes. When standard input is not a
        terminal (a notebook cell, a pipe) nobody can answer, so it is False without ``yes``.
    """
    print(text)
    if yes:
        print("Licence accepted with --yes.\n")
        return True
    if not sys.stdin.isatty():
        print("Nobody can answer here: pass --yes to accept the licence.", file=sys.stderr)
        return False
    answer = input("Do you accept this licence? Type yes to continue: ")
    return answer.strip().lower() in ("y", "yes")
