"""Offline tests of how audioprune_lite.download copes with broken transfers and archives.

A small HTTP server on 127.0.0.1 (standard library, in a thread) answers each path with a
function of the test's choosing, so a test can send a body without ``Content-Length``,
in chunks, cut it off, stall, send a ``206`` from the wrong byte or a ``416`` without
``Content-Range``, or announce far more bytes than it sends. Payloads are a few kB and
stall limits a fraction of a second, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import tarfile
import threading
import time
import warnings
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import audioprune_lite.download as download_module
from audioprune_lite.download import (
    RemoteFile,
    UnsafeArchiveError,
    download,
    fetch_archives,
    fetch_for_command_line,
    safe_extract,
)

REPO = Path(__file__).resolve().parents[1]
NOISE = hashlib.sha256(b"noise").digest() * 1500  # 48 kB that do not compress


# --------------------------------------------------------------------------- server


class ScriptedServer(ThreadingHTTPServer):
    """Answers ``routes[path](handler, offset)``; ``offset`` is the Range start or None."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.routes = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.stop = threading.Event()  # wakes handlers that are pretending to stall

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        range_header = self.headers.get("Range")
        self.server.requests.append((self.path, range_header))
        self.close_connection = True
        offset = None
        if range_header:
            offset = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))
        try:
            self.server.routes[self.path](self, offset)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first, as a stall test wants

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()


def send(handler, body: bytes, *, status: int = 200, headers=(), length: bool = True,
         chunked: bool = False, cut: int | None = None, piece: int = 4096,
         pause: float = 0.0, stall_after: int | None = None, stall: float = 0.0) -> None:
    """Answer with ``body``: with or without Content-Length, plain or chunked, in pieces of
    ``piece`` bytes ``pause`` seconds apart; stop after ``cut`` bytes (a cut connection);
    sleep ``stall`` seconds after ``stall_after`` bytes."""
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    elif length and not any(name == "Content-Length" for name, _ in headers):
        handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    sent = 0
    while sent < len(body):
        if cut is not None and sent >= cut:
            return  # closing now cuts the body (and, chunked, leaves out the last chunk)
        if stall_after is not None and sent >= stall_after:
            handler.server.stop.wait(stall)
            stall_after = None
        stops = [x for x in (cut, stall_after) if x is not None and x > sent]
        end = min(sent + piece, len(body), *stops)
        block = body[sent:end]
        handler.wfile.write(b"%X\r\n%s\r\n" % (len(block), block) if chunked else block)
        sent = end
        if pause:
            time.sleep(pause)
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")


def serve_ranges(data: bytes, **options):
    """A well-behaved route: 200, 206 with Content-Range, 416 with ``bytes */size``."""
    def route(handler, offset):
        if offset is None:
            send(handler, data, **options)
        elif offset >= len(data):
            send(handler, b"", status=416, headers=[("Content-Range", f"bytes */{len(data)}")])
        else:
            send(handler, data[offset:], status=206, **options,
                 headers=[("Content-Range", f"bytes {offset}-{len(data) - 1}/{len(data)}")])
    return route


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name", on purpose
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, content in members:
                archive.writestr(name, content)
    return buffer.getvalue()


def make_tar(members, mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


ARCHIVES = {  # file name -> bytes of a small archive whose first member is 48 kB of noise
    "a.zip": make_zip([("top/noise.bin", NOISE), ("top/meta.csv", b"name\nx\n")]),
    "a.tar": make_tar([("top/noise.bin", NOISE), ("top/meta.csv", b"name\nx\n")]),
    "a.tar.gz": make_tar([("top/noise.bin", NOISE), ("top/meta.csv", b"name\nx\n")], "w:gz"),
}


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


def one_error_line(text: str) -> str:
    """The single line a command line printed to stderr, progress bars aside (fails if
    there are more)."""
    progress_bar = re.compile(r": .*\[\d\d:\d\d")  # tqdm's "name: 12kB [00:01, ...]"
    lines = [line for line in text.strip().splitlines() if not progress_bar.search(line)]
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "data_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- cut transfers


@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_cut_transfer_without_length_or_md5_stays_a_part_and_resumes(server, tmp_path, name):
    data = ARCHIVES[name]
    half = len(data) // 2
    server.routes["/f"] = lambda handler, offset: send(handler, data, length=False, cut=half)
    dest, part = tmp_path / name, tmp_path / f"{name}.part"
    with pytest.raises(ConnectionError, match="run again to resume"):
        download(server.url + "/f", dest, progress=False)
    assert not dest.exists()
    assert part.read_bytes() == data[:half]

    server.routes["/f"] = serve_ranges(data, length=False)
    download(server.url + "/f", dest, progress=False)
    assert server.requests[-1] == ("/f", f"bytes={half}-")
    assert dest.read_bytes() == data
    assert not part.exists()


def test_chunked_body_cut_midway_keeps_its_bytes_and_resumes(server, tmp_path):
    data = ARCHIVES["a.zip"]
    server.routes["/f"] = lambda handler, offset: send(handler, data, chunked=True, cut=20480)
    dest, part = tmp_path / "a.zip", tmp_path / "a.zip.part"
    with pytest.raises(ConnectionError, match=r"a\.zip.*run again to resume"):
        download(server.url + "/f", dest, progress=False)
    assert part.read_bytes() == data[:20480]
    assert not dest.exists()

    server.routes["/f"] = serve_ranges(data, chunked=True)
    download(server.url + "/f", dest, progress=False)
    assert server.requests[-1] == ("/f", "bytes=20480-")
    assert dest.read_bytes() == data


def test_a_cut_archive_left_under_the_final_name_is_downloaded_again(server, tmp_path):
    data = ARCHIVES["a.zip"]
    server.routes["/f"] = serve_ranges(data)
    dest = tmp_path / "a.zip"
    dest.write_bytes(data[: len(data) // 2])
    download(server.url + "/f", dest, progress=False)
    assert dest.read_bytes() == data


def test_a_whole_transfer_of_a_cut_archive_is_removed(server, tmp_path):
    data = ARCHIVES["a.zip"][:20480]  # the server itself holds a cut zip
    server.routes["/f"] = serve_ranges(data)
    with pytest.raises(ValueError, match=r"a\.zip is incomplete.*run again"):
        download(server.url + "/f", tmp_path / "a.zip", progress=False)
    assert files_under(tmp_path) == []


def test_plain_file_without_length_or_md5_is_trusted_after_a_clean_end(server, tmp_path):
    """The documented choice: nothing else can check it, so a clean end is taken as the end."""
    server.routes["/f"] = lambda handler, offset: send(handler, b"plain text", length=False)
    dest = tmp_path / "notes.txt"
    download(server.url + "/f", dest, progress=False)
    assert dest.read_bytes() == b"plain text"


# --------------------------------------------------------------------------- 206 and 416


def test_206_that_restarts_at_zero_replaces_the_part(server, tmp_path):
    data = ARCHIVES["a.zip"]

    def whole_file_as_206(handler, offset):
        send(handler, data, status=206,
             headers=[("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}")])

    server.routes["/f"] = whole_file_as_206
    dest = tmp_path / "a.zip"
    (tmp_path / "a.zip.part").write_bytes(b"x" * 1000)  # stale bytes from another file
    download(server.url + "/f", dest, progress=False)
    assert server.requests == [("/f", "bytes=1000-")]
    assert dest.read_bytes() == data


@pytest.mark.parametrize("content_range", ["bytes 500-{last}/{size}", None])
def test_206_from_another_offset_is_refused_and_the_part_dropped(server, tmp_path,
                                                                  content_range):
    data = ARCHIVES["a.zip"]

    def misplaced_206(handler, offset):
        if offset is None:
            send(handler, data)
            return
        headers = []
        if content_range:
            headers = [("Content-Range", content_range.format(last=len(data) - 1, size=len(data)))]
        send(handler, data[500:], status=206, headers=headers)

    server.routes["/f"] = misplaced_206
    dest, part = tmp_path / "a.zip", tmp_path / "a.zip.part"
    part.write_bytes(data[:1000])
    with pytest.raises(ConnectionError, match="run again"):
        download(server.url + "/f", dest, progress=False)
    assert not part.exists() and not dest.exists()

    download(server.url + "/f", dest, progress=False)
    assert server.requests[-1] == ("/f", None)
    assert dest.read_bytes() == data


@pytest.mark.parametrize("name", ["a.zip", "a.bin"])
def test_416_without_content_range_restarts_an_unproven_part(server, tmp_path, name):
    data = ARCHIVES["a.zip"]

    def bare_416(handler, offset):
        if offset is None:
            send(handler, data)
        else:
            send(handler, b"", status=416)

    server.routes["/f"] = bare_416
    dest = tmp_path / name
    (tmp_path / f"{name}.part").write_bytes(data[:1000])
    download(server.url + "/f", dest, progress=False)
    assert server.requests == [("/f", "bytes=1000-"), ("/f", None)]
    assert dest.read_bytes() == data


@pytest.mark.parametrize("with_md5", [False, True])
def test_416_without_content_range_keeps_a_part_its_content_proves(server, tmp_path, with_md5):
    data = ARCHIVES["a.zip"]
    server.routes["/f"] = lambda handler, offset: send(handler, b"", status=416)
    dest = tmp_path / "a.zip"
    (tmp_path / "a.zip.part").write_bytes(data)
    md5 = hashlib.md5(data).hexdigest() if with_md5 else None
    download(server.url + "/f", dest, md5, progress=False)
    assert len(server.requests) == 1
    assert dest.read_bytes() == data


# --------------------------------------------------------------------------- stalls


def test_stalled_transfer_is_stopped_and_keeps_its_bytes(server, tmp_path):
    data = ARCHIVES["a.zip"]
    server.routes["/f"] = lambda handler, offset: send(handler, data, stall_after=8192,
                                                       stall=5.0)
    dest, part = tmp_path / "a.zip", tmp_path / "a.zip.part"
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no data.*0\.3 s.*run again to resume"):
        download(server.url + "/f", dest, progress=False, stall_seconds=0.3)
    assert time.monotonic() - started < 2.5
    assert part.read_bytes() == data[:8192]
    assert not dest.exists()


def test_slow_but_steady_transfer_is_never_stopped(server, tmp_path):
    data = NOISE[:24000]
    server.routes["/f"] = lambda handler, offset: send(handler, data, piece=1000, pause=0.04,
                                                       chunked=True)
    dest = tmp_path / "slow.bin"
    started = time.monotonic()
    download(server.url + "/f", dest, progress=False, stall_seconds=0.3)
    assert time.monotonic() - started > 0.6  # far longer than the stall limit in total
    assert dest.read_bytes() == data


# --------------------------------------------------------------------------- size caps


@pytest.mark.parametrize("resume", [False, True])
def test_announced_size_far_above_the_expected_one_is_refused(server, tmp_path, resume):
    data = ARCHIVES["a.zip"]
    huge = 50 << 20

    def boastful(handler, offset):
        if offset is None:
            send(handler, data, headers=[("Content-Length", str(huge))])
        else:
            send(handler, data[offset:], status=206,
                 headers=[("Content-Range", f"bytes {offset}-{huge - 1}/{huge}"),
                          ("Content-Length", str(huge - offset))])

    server.routes["/f"] = boastful
    dest, part = tmp_path / "a.zip", tmp_path / "a.zip.part"
    if resume:
        part.write_bytes(data[:1000])
    with pytest.raises(ValueError, match=r"a\.zip.*larger than"):
        download(server.url + "/f", dest, size=len(data), progress=False)
    assert not dest.exists()
    assert part.read_bytes() == data[:1000] if resume else not part.exists()


def test_fetch_archives_caps_a_download_at_the_published_size(server, tmp_path):
    data = ARCHIVES["a.zip"]
    server.routes["/f"] = lambda handler, offset: send(
        handler, data, headers=[("Content-Length", str(50 << 20))])
    remote = RemoteFile("a.zip", server.url + "/f", None, len(data))
    with pytest.raises(ValueError, match="larger than"):
        fetch_archives([remote], tmp_path / "data", progress=False)
    assert files_under(tmp_path / "data") == []


def test_bytes_beyond_the_expected_size_stop_the_download(server, tmp_path):
    endless = NOISE * 64  # 3 MB, more than 10 kB + the margin
    server.routes["/f"] = lambda handler, offset: send(handler, endless, length=False,
                                                       piece=65536)
    dest = tmp_path / "a.bin"
    with pytest.raises(ValueError, match=r"a\.bin.*larger than"):
        download(server.url + "/f", dest, size=10_000, progress=False)
    assert files_under(tmp_path) == []


# --------------------------------------------------------------------------- archives


def test_expansion_beyond_max_bytes_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip([("a.bin", bytes(3000)), ("b.bin", bytes(3000))],
                                 zipfile.ZIP_DEFLATED))
    with pytest.raises(UnsafeArchiveError, match="expand"):
        safe_extract(archive, tmp_path / "dest", max_bytes=5000)
    assert not (tmp_path / "dest").exists()


def test_a_zip_bomb_is_refused_by_default(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(make_zip([("zeros.bin", bytes(20 << 20))], zipfile.ZIP_DEFLATED))
    assert archive.stat().st_size < 100_000  # about 1000 times smaller than its content
    with pytest.raises(UnsafeArchiveError, match="expand"):
        safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_a_member_longer_than_declared_is_refused(tmp_path):
    """Holds already: zipfile stops at the declared size and fails the CRC check."""
    data = bytearray(make_zip([("zeros.bin", bytes(2 << 20))], zipfile.ZIP_DEFLATED))
    directory = data.rfind(b"PK\x01\x02")
    data[directory + 24:directory + 28] = (10).to_bytes(4, "little")  # declared size: 10
    archive = tmp_path / "liar.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises((ValueError, zipfile.BadZipFile)):
        safe_extract(archive, tmp_path / "dest")
    assert not any(path.is_file() for path in files_under(tmp_path / "dest"))


@pytest.mark.parametrize("fmt", ["zip", "tar"])
@pytest.mark.parametrize("names,strip_prefix", [
    (["d/a.txt", "d/a.txt"], ""),
    (["d/a.txt", "./d//a.txt"], ""),
    (["d/A.txt", "d/a.txt"], ""),  # one file on a case-insensitive disk
    (["top/a.txt", "a.txt"], "top/"),  # the same file once the prefix is stripped
])
def test_duplicate_member_names_are_refused(tmp_path, fmt, names, strip_prefix):
    members = [(name, f"copy {n}".encode()) for n, name in enumerate(names)]
    archive = tmp_path / f"a.{fmt}"
    archive.write_bytes(make_zip(members) if fmt == "zip" else make_tar(members))
    with pytest.raises(UnsafeArchiveError, match="more than once"):
        safe_extract(archive, tmp_path / "dest", strip_prefix=strip_prefix)
    assert not (tmp_path / "dest").exists()


def test_safe_extract_refuses_an_archive_without_an_expected_member(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip([("top/audio/x.wav", b"RIFF")]))
    with pytest.raises(ValueError, match=r"top/meta\.csv"):
        safe_extract(archive, tmp_path / "dest", expected_members=["top/meta.csv"])
    assert not (tmp_path / "dest").exists()


def test_download_refuses_an_archive_without_an_expected_member(server, tmp_path):
    data = make_zip([("top/audio/x.wav", b"RIFF")])
    server.routes["/f"] = lambda handler, offset: send(handler, data, length=False)
    dest = tmp_path / "a.zip"
    with pytest.raises(ValueError, match=r"a\.zip.*top/meta\.csv"):
        download(server.url + "/f", dest, expected_members=["top/meta.csv"], progress=False)
    assert files_under(tmp_path) == []


def truncations():
    """(name, cut bytes) of each archive: mid-member, and for the tar at a member's end."""
    tar_members = tarfile.open(fileobj=io.BytesIO(ARCHIVES["a.tar"])).getmembers()
    yield "a.zip", len(ARCHIVES["a.zip"]) - 30  # the end of the central directory is lost
    yield "a.zip", len(ARCHIVES["a.zip"]) // 2
    yield "a.tar", tar_members[1].offset  # exactly before the second member's header
    yield "a.tar", len(ARCHIVES["a.tar"]) // 2
    yield "a.tar.gz", len(ARCHIVES["a.tar.gz"]) - 4  # the gzip trailer's size is lost


@pytest.mark.parametrize("name,cut", list(truncations()))
def test_truncated_archive_is_detected_as_incomplete(tmp_path, name, cut):
    archive = tmp_path / name
    archive.write_bytes(ARCHIVES[name][:cut])
    with pytest.raises(ValueError, match="incomplete"):
        safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


# --------------------------------------------------------------------------- command lines


def cut_chunked(handler, offset):
    send(handler, ARCHIVES["a.zip"], chunked=True, cut=20480)


def stalled(handler, offset):
    send(handler, ARCHIVES["a.zip"], stall_after=8192, stall=5.0)


def boastful(handler, offset):
    send(handler, ARCHIVES["a.zip"], headers=[("Content-Length", str(50 << 20))])


def cut_without_length(handler, offset):
    send(handler, ARCHIVES["a.zip"], length=False, cut=20480)


@pytest.mark.parametrize("route,options,expected", [
    (cut_chunked, {}, "run again to resume"),
    (stalled, {"stall_seconds": 0.3}, "run again to resume"),
    (boastful, {}, "larger than"),
    (cut_without_length, {}, "run again to resume"),
])
def test_command_line_prints_one_line_and_exits_1(server, tmp_path, capsys, route, options,
                                                  expected):
    server.routes["/f"] = route
    remote = RemoteFile("a.zip", server.url + "/f", None, len(ARCHIVES["a.zip"]))
    code = fetch_for_command_line([remote], tmp_path / "data", progress=False, **options)
    assert code == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: ") and "a.zip" in line and expected in line


def test_command_line_exits_130_quietly_on_ctrl_c(monkeypatch, tmp_path, capsys):
    """Holds already."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "download", interrupted)
    remote = RemoteFile("a.zip", "http://127.0.0.1:9/a.zip", None)
    assert fetch_for_command_line([remote], tmp_path / "data", progress=False) == 130
    assert "run the same command again to resume" in one_error_line(capsys.readouterr().err)


def test_esc50_script_refuses_an_archive_without_its_table(server, tmp_path, capsys):
    esc = load_script("download_esc50")
    data = make_zip([(f"ESC-50-{esc.COMMIT}/README.md", b"hello")])
    server.routes[f"/{esc.COMMIT}.zip"] = lambda handler, offset: send(handler, data,
                                                                       length=False)
    root = tmp_path / "esc50"
    assert esc.main(["--root", str(root), "--base-url", server.url, "--yes"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "meta/esc50.csv" in line
    assert not list(root.glob("*.zip"))  # not kept: a rerun downloads afresh
