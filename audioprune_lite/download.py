"""Download and unpack the real data sets: resumable, verified, safe to extract.

Used by ``data_scripts/download_tau2020_mobile.py`` and ``data_scripts/download_esc50.py``
(the README's real data). Everything here uses the standard library plus ``tqdm``
for progress bars, so it works wherever the course's requirements are installed.

The guarantees, in the order a download goes through them:

1. A file is streamed to ``<dest>.part``, each piece written as it arrives. If that file
   exists (an earlier run was cut off), the download resumes where it stopped with an
   HTTP ``Range`` request. A ``206`` answer is appended only when its ``Content-Range``
   starts at the byte asked for; one that starts at byte 0, or a ``200``, replaces the
   part file; any other ``206`` removes it and asks for a rerun.
2. A transfer that delivers no byte for ``stall_seconds`` (default :data:`STALL_SECONDS`)
   is stopped; a slow one that keeps sending never is, and the total time is never
   limited. A stall, a cut connection or a broken chunked body keeps the bytes received
   in the part file and raises :class:`ConnectionError` saying to run again to resume.
3. When the file's size is published, a larger announced size (``Content-Length``,
   ``Content-Range``) is refused before anything is written, and a download that grows
   past it stops and is removed (:class:`SizeLimitError`); both allow the published size
   plus :data:`SIZE_MARGIN_FRACTION` and :data:`SIZE_MARGIN_BYTES`.
4. The part file must then be proven complete, by every means at hand: all the bytes the
   server announced; the MD5 when one is given (a wrong file is deleted,
   :class:`ChecksumError`); and for a ``.zip`` or ``.tar`` file without MD5, or without an
   announced length, the archive's own structure (a zip's central directory at its end;
   a tar's two closing empty blocks and its compressed stream's end) and the members it
   must contain. An archive cut short without notice stays a part file, to resume; one
   that is whole but wrong is deleted (:class:`IncompleteArchiveError`). A plain file
   with neither MD5 nor announced length has nothing to check it by: it is trusted when
   the connection ended cleanly, the only evidence there is. A ``416`` answer without
   ``Content-Range`` proves nothing: the part file is kept only if its content proves it
   whole, and is downloaded again otherwise.
5. Only a proven file is renamed to ``dest`` (``os.replace``, atomic), so ``dest`` never
   holds half a file; an existing ``dest`` is checked the same way before it is reused.
6. :func:`safe_extract` checks that the archive is whole, that it holds its expected
   members, and every member name (no escape from the destination, no link, no name
   twice) before it writes anything; it caps what the archive expands to, by the declared
   sizes first and by the bytes actually written; and it writes each member under a
   temporary name first.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import lzma
import os
import re
import stat
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from tqdm.auto import tqdm

from .store import atomic_write

__all__ = [
    "ChecksumError",
    "IncompleteArchiveError",
    "RemoteFile",
    "SizeLimitError",
    "UnsafeArchiveError",
    "accept_license",
    "download",
    "fetch_archives",
    "fetch_for_command_line",
    "md5sum",
    "safe_extract",
]

USER_AGENT = "audioprune-lite-download (python urllib)"
CHUNK = 1 << 20  # 1 MiB: the read size for hashing, streaming and extracting
STALL_SECONDS = 60.0  # seconds without a single byte after which a download is stopped
SIZE_MARGIN_FRACTION = 0.01  # a download may exceed its published size by 1 % ...
SIZE_MARGIN_BYTES = 1 << 20  # ... plus 1 MiB before it is refused
EXPANSION_RATIO = 100  # default cap of safe_extract: this many times the archive's size
# (plus the margins). Audio and CSV tables compress far less; a zip bomb, about 1000 times.
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# What the zip, tar and decompression readers raise on a cut or damaged archive.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error,
                   lzma.LZMAError, gzip.BadGzipFile)


class ChecksumError(ValueError):
    """A downloaded file's MD5 differs from the expected one (the file has been removed)."""


class IncompleteArchiveError(ValueError):
    """An archive is cut short or damaged, or lacks a member it must contain."""


class SizeLimitError(ValueError):
    """A download is larger than its published size plus the margin."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the destination folder, is a link, or repeats
    another member's name, or the archive would expand beyond its cap."""


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
        Size in bytes if published. Shown to the user, and caps the download at this size
        plus the margin (:data:`SIZE_MARGIN_FRACTION`, :data:`SIZE_MARGIN_BYTES`).
    expected_members : tuple of str
        Member names the archive must contain, as stored in it (e.g.
        ``"ESC-50-<commit>/meta/esc50.csv"``); checked before a download without MD5 is
        kept, and again before extraction.
    """

    name: str
    url: str
    md5: str | None
    size: int | None = None
    expected_members: tuple[str, ...] = ()


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


def download(url: str, dest, md5: str | None = None, *, size: int | None = None,
             expected_members=(), progress: bool = True,
             stall_seconds: float = STALL_SECONDS) -> Path:
    """Download ``url`` to ``dest``, resuming an interrupted download and proving it complete.

    Used by :func:`fetch_archives` and ``data_scripts/``.

    The bytes go to ``dest`` + ``".part"`` first; if that file exists, only the missing
    bytes are asked for (``Range: bytes=N-``). The part file is renamed to ``dest`` in one
    atomic step once it is proven complete, as the module docstring lists (points 1 to 5).

    Parameters
    ----------
    url : str
        The address to fetch (http or https).
    dest : str or Path
        Where the finished file goes. Its folder is created if needed. A ``.zip`` or
        ``.tar`` name (``.tar.gz``, ``.tgz``, ...) means the file must be that archive.
    md5 : str or None
        The expected MD5. If ``dest`` already exists and matches it, nothing is
        downloaded. With None an existing archive ``dest`` is kept if it is whole (and a
        plain file is kept as it is).
    size : int or None
        The published size in bytes; a download announced or growing larger than this
        plus the margin is refused. None: no cap.
    expected_members : sequence of str
        Member names an archive must contain (as stored in it); checked when there is no
        MD5.
    progress : bool
        Show a progress bar (``tqdm``).
    stall_seconds : float
        Seconds to wait for the server's answer, and for each next byte, before the
        download counts as stalled and stops. The total time is not limited.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The downloaded file's MD5 differs from ``md5``; the file has been removed.
    IncompleteArchiveError
        The server sent a whole file that is not a whole archive, or lacks an expected
        member; the file has been removed.
    SizeLimitError
        The file is larger than ``size`` plus the margin; nothing is kept.
    ConnectionError
        The connection was cut or stalled, or the answer was broken. The bytes received
        are kept in the ``.part`` file: call again to resume. Also an HTTP error status
        (e.g. 404), named in the message.
    """
    dest = Path(dest)
    md5 = None if md5 is None else md5.lower()
    kind = _archive_kind(dest.name)
    nothing_to_check = md5 is None and kind is None  # a plain file without MD5: see point 4
    if dest.exists() and (nothing_to_check
                          or _content_proves_whole(dest, md5, kind, expected_members)):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    fetch = functools.partial(_fetch, url, part, progress=progress, stall_seconds=stall_seconds,
                              limit=None if size is None else _with_margin(size))
    announced = fetch()
    if announced is None:  # a 416 without Content-Range: only the part's content can tell
        if _content_proves_whole(part, md5, kind, expected_members):
            os.replace(part, dest)
            return dest
        part.unlink()
        announced = fetch()
    _check_complete(part, dest, md5, kind, expected_members, announced)
    os.replace(part, dest)
    return dest


def _with_margin(size: int) -> int:
    """The most bytes accepted where ``size`` bytes are expected: ``size`` plus the margins."""
    return size + int(size * SIZE_MARGIN_FRACTION) + SIZE_MARGIN_BYTES


def _fetch(url: str, part: Path, *, limit: int | None, progress: bool,
           stall_seconds: float) -> bool | None:
    """Stream ``url`` into ``part``, continuing after the bytes ``part`` already holds.

    Returns True when the server announced the file's length and exactly that many bytes
    are in ``part``; False when it announced none and the body ended with the connection;
    None when it answered the resume with 416 but no ``Content-Range``, so nothing says
    whether ``part`` is whole. ``limit`` caps the announced and received bytes
    (:class:`SizeLimitError`). A cut, a stall or a broken answer raises
    :class:`ConnectionError` with the bytes received kept in ``part``.
    """
    name = part.name.removesuffix(".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=stall_seconds)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not offset:
            error.close()
            raise ConnectionError(f"{name}: {url} answered HTTP {error.code} ({error.reason}); "
                                  "check the address, or try again later") from None
        # 416 "Range Not Satisfiable": nothing after byte `offset`. The answer's
        # Content-Range ("bytes */<size>") says whether the part file is complete.
        total = _total_from_content_range(error.headers.get("Content-Range", ""))
        error.close()
        if total is None:
            return None
        if total == offset:
            return True
        part.unlink()  # the part file is longer than the remote file: start over
        return _fetch(url, part, limit=limit, progress=progress, stall_seconds=stall_seconds)
    except urllib.error.URLError as error:
        raise ConnectionError(f"{name}: could not reach {url} ({error.reason}); check the "
                              "network, then run again to resume") from None
    except TimeoutError:
        raise ConnectionError(f"{name}: no answer from {url} for {stall_seconds} s; "
                              "run again to resume") from None
    except (http.client.HTTPException, ConnectionError) as error:
        raise ConnectionError(f"{name}: broken answer from {url} ({type(error).__name__}); "
                              "run again to resume") from None
    with response:
        start, total = _body_start_and_total(response)
        if start not in (0, offset):  # also None: a 206 without a usable Content-Range
            part.unlink(missing_ok=True)
            raise ConnectionError(
                f"{name}: asked to resume at byte {offset}, the server answered with "
                f"Content-Range {response.headers.get('Content-Range')!r}; the part file "
                "was removed: run again to download it from the start")
        if limit is not None and total is not None and total > limit:
            raise SizeLimitError(
                f"{name}: the server announces {total} bytes, larger than the {limit} "
                "allowed (the published size plus a margin); refused: check the URL")
        received = _receive(response, part, start, total, limit=limit, progress=progress,
                            stall_seconds=stall_seconds)
    if total is not None and received < total:
        raise ConnectionError(
            f"{name}: the connection closed after {received} of {total} bytes; they are kept "
            f"in {part}: run again to resume")
    return received == total


def _body_start_and_total(response) -> tuple[int | None, int | None]:
    """Where the body of an answer starts in the file, and the file's announced length.

    A 200 starts at 0 and its length is ``Content-Length`` (None when absent). A 206 reads
    both from ``Content-Range: bytes <start>-<end>/<total>``; without one the start is None.
    """
    if response.status != 206:
        return 0, response.length
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)",
                         response.headers.get("Content-Range", "").strip())
    if match is None:
        return None, None
    start = int(match.group(1))
    if match.group(2) != "*":
        return start, int(match.group(2))
    return start, None if response.length is None else start + response.length


def _receive(response, part: Path, start: int, total: int | None, *, limit: int | None,
             progress: bool, stall_seconds: float) -> int:
    """Write the body of ``response`` into ``part`` from byte ``start`` as it arrives.

    Returns the size of ``part`` afterwards. Each piece is written as soon as it is read,
    so a cut or a stall (no byte for ``stall_seconds``, the socket's timeout) keeps
    everything received and raises :class:`ConnectionError`. Past ``limit`` bytes the part
    file is removed and :class:`SizeLimitError` raised.
    """
    name = part.name.removesuffix(".part")
    received = start
    try:
        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=name, disable=not progress,
        ) as bar:
            while block := response.read1(CHUNK):
                received += len(block)
                if limit is not None and received > limit:
                    raise SizeLimitError(f"{name}: the download grew larger than the {limit} "
                                         "bytes allowed (the published size plus a margin); "
                                         "removed: check the URL")
                out.write(block)
                bar.update(len(block))
    except SizeLimitError:
        part.unlink()
        raise
    except TimeoutError:
        raise ConnectionError(f"{name}: no data arrived for {stall_seconds} s; the {received} "
                              f"bytes received are kept in {part}: run again to resume") from None
    except (http.client.HTTPException, ConnectionError) as error:
        # http.client.IncompleteRead (a cut chunked body) is not an OSError.
        raise ConnectionError(f"{name}: the connection broke after {received} bytes "
                              f"({type(error).__name__}); they are kept in {part}: run again "
                              "to resume") from None
    return received


def _total_from_content_range(header: str) -> int | None:
    """The full size from a ``Content-Range`` header such as ``bytes */1234``, else None."""
    match = re.search(r"/(\d+)\s*$", header)
    return int(match.group(1)) if match else None


def _check_complete(part: Path, dest: Path, md5: str | None, kind: str | None,
                    expected_members, announced: bool) -> None:
    """Raise unless ``part`` is proven to be the whole of ``dest`` (module docstring, point 4).

    ``announced`` says whether all the bytes the server announced arrived. An archive cut
    short without such an announcement raises :class:`ConnectionError` and stays, to
    resume; a file proven whole but wrong is removed.
    """
    if kind is not None and (md5 is None or not announced):
        try:
            with _open_archive(part, kind, dest.name) as members:
                names = [member.name for member in members]
        except IncompleteArchiveError as error:
            size = part.stat().st_size
            if not announced:
                raise ConnectionError(
                    f"{dest.name}: the transfer ended after {size} bytes, before the end of "
                    f"the archive ({error}); they are kept in {part}: run again to resume"
                ) from None
            part.unlink()
            raise IncompleteArchiveError(
                f"{error}, although the server sent all {size} bytes it announced; {part} "
                "was removed: run again to download it afresh") from None
        if md5 is None:
            try:
                _require_members(names, expected_members, dest.name)
            except IncompleteArchiveError as error:
                part.unlink()
                raise IncompleteArchiveError(f"{error}; {part} was removed: check the URL, "
                                             "then run again") from None
    if md5 is not None:
        got = md5sum(part)
        if got != md5:
            part.unlink()
            raise ChecksumError(
                f"{dest.name}: MD5 mismatch (expected {md5}, got {got}); "
                f"the downloaded file {part} was removed. Run again to download it afresh."
            )


def _content_proves_whole(path: Path, md5: str | None, kind: str | None,
                          expected_members) -> bool:
    """Whether the content of ``path`` alone proves it whole: its MD5 when given, else an
    archive's structure and expected members. A plain file without MD5 has no such proof."""
    if md5 is not None:
        return md5sum(path) == md5
    if kind is None:
        return False
    try:
        with _open_archive(path, kind, path.name) as members:
            _require_members([member.name for member in members], expected_members, path.name)
    except IncompleteArchiveError:
        return False
    return True


def _archive_kind(name: str) -> str | None:
    """``"zip"`` or ``"tar"`` when a file name says so (``.tar.gz`` and the like too), or None."""
    name = name.lower()
    if name.endswith(".zip"):
        return "zip"
    return "tar" if name.endswith(_TAR_SUFFIXES) else None


@dataclass(frozen=True)
class _Member:
    """One archive member: its stored name, kind, declared size in bytes, and how to read it."""

    name: str
    is_dir: bool
    is_link: bool
    size: int
    open: Callable[[], IO[bytes]]


@contextmanager
def _open_archive(path: Path, kind: str, label: str):
    """Open a zip or tar archive, check that it is whole, and yield its members (``_Member``).

    Whole means, for a zip: its central directory (the zip's last part) is there and its
    first member starts at byte 0; for a tar: the two empty blocks that end it follow the
    last member, and a compressed tar's stream reaches its own end. Anything else, and
    any error of the archive readers while the members are read inside the ``with``
    block, raises :class:`IncompleteArchiveError` naming ``label``.
    """
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                if infos and min(info.header_offset for info in infos):
                    raise IncompleteArchiveError(f"{label} is incomplete or damaged: bytes "
                                                 "that belong to no member precede the first one")
                yield [_Member(info.filename, info.is_dir(),
                               stat.S_ISLNK(info.external_attr >> 16), info.file_size,
                               functools.partial(archive.open, info)) for info in infos]
            return
        with tarfile.open(path) as archive:
            infos = archive.getmembers()
            end = 2 * tarfile.BLOCKSIZE
            archive.fileobj.seek(archive.offset)  # where tarfile stopped reading members
            if archive.fileobj.read(end) != bytes(end):
                raise IncompleteArchiveError(f"{label} is incomplete or damaged: the two empty "
                                             "blocks that end a tar are missing")
            while archive.fileobj.read(CHUNK):  # a compressed stream checks its own end
                pass
            # Anything but a regular file or a folder (links, devices) counts as a link.
            yield [_Member(info.name, info.isdir(), not (info.isfile() or info.isdir()),
                           info.size, functools.partial(archive.extractfile, info))
                   for info in infos]
    except _ARCHIVE_ERRORS as error:
        raise IncompleteArchiveError(f"{label} is incomplete or damaged: {error}") from None


def _require_members(names, expected_members, label: str) -> None:
    """Raise :class:`IncompleteArchiveError` naming the ``expected_members`` not in ``names``."""
    def normal(name):
        return PurePosixPath(name.replace("\\", "/")).as_posix()

    present = {normal(name) for name in names}
    missing = [name for name in expected_members if normal(name) not in present]
    if missing:
        raise IncompleteArchiveError(f"{label} lacks {', '.join(map(repr, missing))}: it is "
                                     "not the archive expected")


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


def safe_extract(archive, dest, *, strip_prefix: str = "", expected_members=(),
                 max_bytes: int | None = None) -> list[Path]:
    """Extract a zip or tar archive into ``dest``; refuse one cut short, unsafe or too big.

    Used by :func:`fetch_archives` and ``data_scripts/``.

    Before anything is written, the archive must be whole (a zip's central directory, a
    tar's closing blocks and compressed stream end), hold ``expected_members``, and pass
    every member: an absolute path, a ``..`` component, a name resolving outside ``dest``,
    a link (symbolic or hard: the data sets contain none), or two members landing on the
    same file (letter case aside, so the result is the same on every disk) make the whole
    archive refused, as do declared sizes summing above ``max_bytes``. Each file is then
    written under a temporary name and renamed into place, so an interrupted extraction
    leaves no half-written file under a real name, and the bytes actually written are
    counted against ``max_bytes`` too.

    Parameters
    ----------
    archive : str or Path
        A zip or tar file (``.tar``, ``.tar.gz``, ...). A name ending in ``.zip`` or a tar
        suffix must be that archive; another name is recognised by its content.
    dest : str or Path
        The folder to extract into; created if needed. Existing files are overwritten.
    strip_prefix : str
        A leading folder such as ``"ESC-50-master/"`` to remove from the member names that
        start with it, so that folder's content lands directly in ``dest``.
    expected_members : sequence of str
        Member names the archive must contain, as stored in it.
    max_bytes : int or None
        The most bytes the archive may expand to. None: :data:`EXPANSION_RATIO` times the
        archive's size plus the margins (:data:`SIZE_MARGIN_FRACTION`,
        :data:`SIZE_MARGIN_BYTES`).

    Returns
    -------
    list of Path
        The extracted files (not folders), in archive order.

    Raises
    ------
    UnsafeArchiveError
        A member is unsafe or repeated, or the declared sizes exceed ``max_bytes``: the
        name is in the message and nothing has been written. Also raised when the bytes
        written exceed ``max_bytes``; the files written until then stay.
    IncompleteArchiveError
        The archive is cut short, damaged or lacks an expected member.
    ValueError
        ``archive`` is neither a zip nor a tar file.
    """
    archive, dest = Path(archive), Path(dest)
    kind = _archive_kind(archive.name)
    if kind is None and zipfile.is_zipfile(archive):
        kind = "zip"
    elif kind is None and tarfile.is_tarfile(archive):
        kind = "tar"
    if kind is None:
        raise ValueError(f"{archive} is neither a zip nor a tar archive")
    if max_bytes is None:
        max_bytes = _with_margin(EXPANSION_RATIO * archive.stat().st_size)
    with _open_archive(archive, kind, archive.name) as members:
        _require_members([member.name for member in members], expected_members, archive.name)
        return _extract_members(members, dest, strip_prefix, max_bytes, archive.name)


def _extract_members(members, dest: Path, strip_prefix: str, max_bytes: int,
                     label: str) -> list[Path]:
    """Check all ``members`` (``_Member``), then write them, ``max_bytes`` at most."""
    plan, seen, declared = [], {}, 0
    for member in members:
        if member.is_link:
            raise UnsafeArchiveError(f"archive member {member.name!r} is a link; refused")
        target = _checked_target(member.name, dest, strip_prefix)
        if target is None:
            if not member.is_dir:
                raise UnsafeArchiveError(f"archive member {member.name!r} is a file that names "
                                         f"{dest} itself; refused")
            continue
        earlier = seen.setdefault(str(target).casefold(), member)
        if earlier is not member and not (earlier.is_dir and member.is_dir):
            raise UnsafeArchiveError(f"archive member {member.name!r} lands on the same file as "
                                     f"{earlier.name!r}: a name occurs more than once; refused")
        declared += member.size
        plan.append((target, member))
    if declared > max_bytes:
        raise UnsafeArchiveError(f"{label} would expand to {declared} bytes, more than the "
                                 f"{max_bytes} allowed; refused")
    left = max_bytes

    def copy(source, out):
        nonlocal left
        while block := source.read(CHUNK):
            left -= len(block)
            if left < 0:
                raise UnsafeArchiveError(f"{label} expands to more than the {max_bytes} bytes "
                                         "allowed, beyond what its members declare; refused")
            out.write(block)

    written = []
    for target, member in plan:
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        with member.open() as source:
            atomic_write(target, functools.partial(copy, source))
        written.append(target)
    return written


def fetch_archives(files, folder, *, extract: bool = True, keep_archives: bool = False,
                   strip_prefix: str = "", progress: bool = True,
                   stall_seconds: float = STALL_SECONDS) -> list[Path]:
    """Download archives into ``folder`` and extract them there, one after the other.

    Used by ``data_scripts/``.

    Each archive is downloaded with :func:`download` (resumable, proven complete, capped
    at its published size), extracted with :func:`safe_extract`, and then deleted unless
    ``keep_archives``; one archive at a time, so the disk never holds more than one
    archive next to the extracted data. After a successful extraction an empty marker
    file ``.<name>.extracted`` is left in ``folder``, and a later run skips that archive,
    so an interrupted run can simply be started again. For a file without a published MD5
    the computed one is printed, to be recorded.

    Parameters
    ----------
    files : sequence of RemoteFile
        What to fetch; each one's ``size`` and ``expected_members`` are checked.
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
    stall_seconds : float
        Passed to :func:`download`: seconds without a byte before a download stops.

    Returns
    -------
    list of Path
        The extracted files, or with ``extract=False`` the downloaded archives.

    Raises
    ------
    ChecksumError, IncompleteArchiveError, SizeLimitError, UnsafeArchiveError, OSError
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
        archive = download(remote.url, folder / remote.name, remote.md5, size=remote.size,
                           expected_members=remote.expected_members, progress=progress,
                           stall_seconds=stall_seconds)
        if remote.md5 is None:
            print(f"    no published MD5 for {remote.name}; its MD5 is {md5sum(archive)} "
                  "(record it to check later downloads)")
        if not extract:
            results.append(archive)
            continue
        results.extend(safe_extract(archive, folder, strip_prefix=strip_prefix,
                                    expected_members=remote.expected_members))
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
        0 when done; 1 after a download, checksum, size or archive error (its message is
        printed to stderr as one line, with no traceback, and says what to do, e.g. run
        again to resume); 130 when interrupted (one line: running the same command again
        resumes).
    """
    try:
        fetch_archives(files, folder, **options)
    except (OSError, ValueError) as error:
        # ValueError includes ChecksumError, IncompleteArchiveError, SizeLimitError and
        # UnsafeArchiveError; the archive readers' own errors arrive as the second.
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
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
