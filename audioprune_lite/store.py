"""The one store: where results are kept, how they are written, and how they are keyed.

Everything the book makes once and reuses (the offline data set, log-mel features, trained
models) goes through this module:

- :func:`cache_home` is the folder (``$AUDIOPRUNE_HOME``, the Makefile points it at
  ``.cache/audioprune`` in the checkout);
- :func:`atomic_write` writes a file under a temporary name and renames it when complete,
  so a kill or a full disk never leaves a half-written file under the final name (and
  gives the file the modes the umask allows, so a lab can share one cache);
- :func:`fingerprint` hashes what a result depends on (arrays, settings) and
  :func:`code_fingerprint` the source code that computes it, so a changed input *or* a
  changed computation gives a new key and the result is recomputed;
- :func:`staged_folder` does for a folder what :func:`atomic_write` does for a file, and
  removes what killed runs left behind (but never a live run's folder);
- :func:`cached` reads a result back, or computes and writes it; an entry that cannot be
  read is computed again with a warning naming its file, never trusted and never fatal,
  and a result that cannot be written (a read-only or full disk) is still returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np

try:
    import fcntl  # file locks: POSIX only; elsewhere abandonment is told by process id and age
except ImportError:
    fcntl = None

__all__ = ["atomic_write", "atomic_write_text", "cache_home", "cached", "code_fingerprint", "fingerprint",
           "read_entry", "staged_folder", "write_entry"]


def cache_home(create: bool = True) -> Path:
    """The cache folder: ``$AUDIOPRUNE_HOME``, or ``~/.cache/audioprune`` when it is unset.

    Used by: Chapters 1 and 7.

    Parameters
    ----------
    create : bool
        Make the folder if it is missing (False: only say where it is).

    Returns
    -------
    pathlib.Path
        An absolute path.

    Raises
    ------
    OSError
        The folder cannot be made (e.g. the path names a file); the message names
        ``AUDIOPRUNE_HOME``.
    """
    home = Path(os.environ.get("AUDIOPRUNE_HOME", "~/.cache/audioprune")).expanduser().resolve()
    try:
        if create:
            home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(error.errno, f"{error.strerror}: AUDIOPRUNE_HOME must name a folder "
                      "that can be made and written", str(home)) from error
    return home


def atomic_write(path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file whole or not at all: ``write(file)`` fills a temporary file, then it is renamed.

    Parameters
    ----------
    path : str or Path
        The final name; its folder is created if missing.
    write : callable
        Called with a binary file object open for writing.

    Returns
    -------
    pathlib.Path
        ``path``, with the modes a new file gets under the process's umask (e.g. 0644 under
        umask 022). If ``write`` raises (or the process is stopped), ``path`` is untouched
        and the temporary file is removed.

    Raises
    ------
    OSError
        The file system refused (read-only, full, ...); the error names ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".part")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error
    try:
        os.chmod(handle, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno is not None and error.filename is None:
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    """:func:`atomic_write` of a text (UTF-8): a table, a JSON entry, a report.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    data = text.encode("utf-8")
    return atomic_write(path, lambda file: file.write(data))


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


STAGING_AGE_S = 3600.0
"""A staging folder whose lock is free is left alone for this many seconds after its last
change, unless its owner's process is known to be gone (see :func:`staged_folder`)."""


@contextlib.contextmanager
def staged_folder(final, prefix: str):
    """Make a folder whole or not at all: fill the yielded staging folder, it becomes ``final``.

    The staging folder is made beside ``final``, named ``<prefix><pid>-<random>`` (the
    owner's process id), and holds a lock file that the owner keeps locked while it works.
    When the block ends without error, the folder gets the modes the umask allows and is
    renamed to ``final`` in one step (if another run finished ``final`` first, its folder is
    kept and this one removed); on an error or an interruption it is removed.

    A run killed outright (``kill -9``, a power cut) cannot remove its folder, so each call
    first removes the staging folders of earlier runs that are abandoned: their lock is free
    (no live process holds it) and their owner's process is gone, or, when the process id
    may have been reused, they have not changed for :data:`STAGING_AGE_S`. A concurrent
    run's folder is never removed.

    Parameters
    ----------
    final : str or Path
        The folder to make; it must not exist yet.
    prefix : str
        The start of staging folders' names, e.g. ``".synthetic-scenes-"``; folders beside
        ``final`` whose names start with it are the ones checked for abandonment.

    Yields
    ------
    pathlib.Path
        The staging folder to fill.
    """
    final = Path(final)
    for staging in final.parent.glob(f"{prefix}*"):
        if staging.is_dir() and _abandoned(staging, prefix):
            shutil.rmtree(staging, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=final.parent))
    try:
        with open(staging / ".lock", "w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield staging
        (staging / ".lock").unlink()
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private (0700)
        try:
            staging.replace(final)
        except OSError:  # another run finished `final` first
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _abandoned(staging: Path, prefix: str) -> bool:
    """Whether no live run owns ``staging`` (see :func:`staged_folder`)."""
    lock_file = staging / ".lock"
    if fcntl is not None and lock_file.is_file():
        with open(lock_file, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # its owner is at work
    pid = staging.name[len(prefix):].split("-", 1)[0]
    if pid.isdigit() and not _process_alive(int(pid)):
        return True
    return time.time() - staging.stat().st_mtime > STAGING_AGE_S


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def fingerprint(*parts) -> str:
    """A short hash of arrays and JSON-able values: the key of a cached result.

    Parameters
    ----------
    *parts : numpy.ndarray or JSON-able value
        Arrays are hashed by dtype, shape and bytes; anything else by its JSON text (keys
        sorted; values JSON cannot write are written with ``str``).

    Returns
    -------
    str
        20 hexadecimal characters of a SHA-256 digest.
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(str((part.dtype, part.shape)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def code_fingerprint(*sources: ModuleType | Callable | type) -> str:
    """A short hash of the source code of modules, classes or functions.

    A package (a module with ``__path__``) is hashed by every ``.py`` file in its folder, so
    a change to any of its files changes the result.

    Returns
    -------
    str
        12 hexadecimal characters of a SHA-256 digest.
    """
    digest = hashlib.sha256()
    for source in sources:
        if isinstance(source, ModuleType) and hasattr(source, "__path__"):
            folder = Path(source.__path__[0])
            for file in sorted(folder.rglob("*.py")):
                digest.update(file.relative_to(folder).as_posix().encode())
                digest.update(file.read_bytes())
        else:
            digest.update(inspect.getsource(source).encode())
    return digest.hexdigest()[:12]


def cached(path, compute: Callable[[], Any], *, save: Callable[[Any, Path], Any],
           load: Callable[[Path], Any]) -> tuple[Any, bool]:
    """Read a result from ``path``, or compute it and store it there.

    Parameters
    ----------
    path : str or Path
        The cache entry, named by a key from :func:`fingerprint`.
    compute : callable
        ``compute()`` makes the result.
    save : callable
        ``save(result, path)`` writes it; it should write through :func:`atomic_write`.
    load : callable
        ``load(path)`` reads it back and raises if the entry is not a valid result.

    Returns
    -------
    result : object
    was_cached : bool
        Whether the result was read from ``path``.

    Warns
    -----
    RuntimeWarning
        An entry exists but cannot be read (e.g. cut short by a full disk); it is computed
        and written again. Or the entry cannot be written (a read-only or full disk): the
        result is returned all the same, and computed again next time.
    """
    path = Path(path)
    found, result = read_entry(path, load)
    if found:
        return result, True
    result = compute()
    write_entry(result, path, save)
    return result, False


def read_entry(path, load: Callable[[Path], Any]) -> tuple[bool, Any]:
    """The first half of :func:`cached`: ``(True, load(path))``, or ``(False, None)`` if there is none.

    An entry that exists but cannot be read is reported with a ``RuntimeWarning`` and
    counts as missing.

    Used by: :func:`cached` and :class:`audioprune_lite.engine.RayEngine`.
    """
    path = Path(path)
    if path.exists():
        try:
            return True, load(path)
        except Exception as error:  # any unreadable entry is recomputed, whatever the reader raised
            warnings.warn(f"cache entry {path} cannot be read ({type(error).__name__}: {error}); "
                          "computing it again", RuntimeWarning, stacklevel=3)
    return False, None


def write_entry(result, path, save: Callable[[Any, Path], Any]) -> None:
    """The second half of :func:`cached`: ``save(result, path)``, or a ``RuntimeWarning`` if the disk refuses.

    Used by: :func:`cached` and :class:`audioprune_lite.engine.RayEngine`.
    """
    try:
        save(result, Path(path))
    except OSError as error:
        warnings.warn(f"{path} cannot be cached ({error.strerror}); the result is used without "
                      "being stored", RuntimeWarning, stacklevel=3)
