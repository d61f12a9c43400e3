"""Offline tests of audioprune_lite.download and the two download scripts.

A small HTTP server on 127.0.0.1 (standard library, in a thread) serves zip files built
in ``tmp_path``. It honours ``Range`` requests, records every request, and can be told
to cut the connection after N bytes or to ignore ``Range``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import stat
import tarfile
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audioprune_lite.download import (
    ChecksumError,
    RemoteFile,
    UnsafeArchiveError,
    accept_license,
    download,
    fetch_archives,
    md5sum,
    safe_extract,
)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` ({"/path": bytes}); settings are plain attributes the tests set."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.cut_after: int | None = None  # drop the next answer after this many bytes
        self.ignore_range = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RangeHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        path = self.path.split("?")[0]
        range_header = self.headers.get("Range")
        server.requests.append((path, range_header))
        if path not in server.files:
            self.send_error(404)
            return
        data = server.files[path]
        start = 0
        if range_header and not server.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_after is not None:
            body, server.cut_after = body[: server.cut_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    httpd = FileServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def make_zip(path: Path, members: dict[str, bytes]) -> bytes:
    """Write a zip with ``members`` ({name: content}) and return its bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return path.read_bytes()


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def load_script(name: str):
    """Import ``data_scripts/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "data_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def payload(tmp_path) -> bytes:
    """A zip of about 50 kB of incompressible bytes, so a cut falls mid-file."""
    rng_bytes = hashlib.sha256(b"seed").digest() * 1600
    return make_zip(tmp_path / "payload.zip", {"data/a.bin": rng_bytes, "data/b.txt": b"hi"})


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")) if folder.exists() else []


# --------------------------------------------------------------------------- md5sum


def test_md5sum_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 100
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert md5sum(path, chunk=1000) == md5_of(data)


# --------------------------------------------------------------------------- download


def test_clean_download_verifies_and_lands(server, tmp_path, payload):
    server.files["/a.zip"] = payload
    dest = tmp_path / "out" / "a.zip"
    result = download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert result == dest
    assert dest.read_bytes() == payload
    assert not dest.with_name("a.zip.part").exists()
    assert server.requests == [("/a.zip", None)]


def test_interrupted_download_resumes_with_range(server, tmp_path, payload):
    server.files["/a.zip"] = payload
    server.cut_after = 20_000
    dest = tmp_path / "a.zip"
    part = tmp_path / "a.zip.part"
    with pytest.raises(ConnectionError, match="run again to resume"):
        download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert not dest.exists()
    assert part.stat().st_size == 20_000

    download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert server.requests[-1] == ("/a.zip", "bytes=20000-")
    assert md5sum(dest) == md5_of(payload)
    assert not part.exists()


def test_wrong_checksum_removes_the_file(server, tmp_path, payload):
    server.files["/a.zip"] = payload
    dest = tmp_path / "a.zip"
    wrong = "0" * 32
    with pytest.raises(ChecksumError) as caught:
        download(server.url + "/a.zip", dest, wrong, progress=False)
    message = str(caught.value)
    assert "a.zip" in message and wrong in message and md5_of(payload) in message
    assert "removed" in message
    assert files_under(tmp_path) == [tmp_path / "payload.zip"]


def test_server_ignoring_range_restarts_from_zero(server, tmp_path, payload):
    server.files["/a.zip"] = payload
    server.ignore_range = True
    dest = tmp_path / "a.zip"
    (tmp_path / "a.zip.part").write_bytes(b"x" * 1000)  # stale bytes that must not be kept
    download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert server.requests == [("/a.zip", "bytes=1000-")]
    assert dest.read_bytes() == payload


def test_complete_part_file_is_finished_after_416(server, tmp_path, payload):
    server.files["/a.zip"] = payload
    dest = tmp_path / "a.zip"
    (tmp_path / "a.zip.part").write_bytes(payload)
    download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert server.requests == [("/a.zip", f"bytes={len(payload)}-")]
    assert dest.read_bytes() == payload


def test_verified_dest_is_not_downloaded_again(server, tmp_path, payload):
    dest = tmp_path / "a.zip"
    dest.write_bytes(payload)
    download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert server.requests == []


def test_wrong_dest_is_replaced(server, tmp_path, payload):
    server.files["/a.zip"] = payload
    dest = tmp_path / "a.zip"
    dest.write_bytes(b"an old, broken copy")
    download(server.url + "/a.zip", dest, md5_of(payload), progress=False)
    assert dest.read_bytes() == payload


def test_http_error_is_an_oserror(server, tmp_path):
    with pytest.raises(OSError, match="404"):
        download(server.url + "/missing.zip", tmp_path / "m.zip", progress=False)
    assert not (tmp_path / "m.zip").exists()


# --------------------------------------------------------------------------- safe_extract


def test_safe_extract_writes_files_and_strips_prefix(tmp_path):
    archive = tmp_path / "a.zip"
    make_zip(archive, {"top/": b"", "top/meta.csv": b"m", "top/audio/x.wav": b"w",
                       "other.txt": b"o"})
    dest = tmp_path / "dest"
    written = safe_extract(archive, dest, strip_prefix="top/")
    assert written == [dest / "meta.csv", dest / "audio" / "x.wav", dest / "other.txt"]
    assert (dest / "audio" / "x.wav").read_bytes() == b"w"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "audio", "audio/x.wav", "meta.csv", "other.txt"]  # no temporary left behind


def test_safe_extract_reads_tar_gz(tmp_path):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("d/f.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert safe_extract(archive, tmp_path / "dest") == [tmp_path / "dest" / "d" / "f.txt"]
    assert (tmp_path / "dest" / "d" / "f.txt").read_bytes() == b"abc"


OUTSIDE = "<outside>"  # stands for an absolute path next to dest, so an escape is noticed


@st.composite
def archive_members(draw):
    """(name, kind) of a member that may try to escape: '..', absolute paths, drive letters,
    backslashes, links. Absolute names point next to dest, where the test looks for escapes."""
    prefix = draw(st.sampled_from(["", "/", "\\", "C:", "C:/", "c:\\", "\\\\server\\share\\",
                                   "//", "./", OUTSIDE + "/"]))
    separator = draw(st.sampled_from(["/", "\\"]))
    parts = draw(st.lists(st.sampled_from(["a", "b", "..", ".", "...", "a..b", "C:", " "]),
                          min_size=1, max_size=4))
    kind = draw(st.sampled_from(["file", "folder", "symlink", "hardlink"]))
    return prefix + separator.join(parts) + ("/" if kind == "folder" else ""), kind


def write_one_member_archive(path: Path, fmt: str, name: str, kind: str) -> None:
    """An archive holding a harmless file first, then the member ``name`` of ``kind``."""
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("harmless.txt", b"h")
            info = zipfile.ZipInfo(name)
            if kind in ("symlink", "hardlink"):  # zip files know only symbolic links
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, b"" if kind == "folder" else b"../../outside")
        return
    with tarfile.open(path, "w") as archive:
        harmless = tarfile.TarInfo("harmless.txt")
        harmless.size = 1
        archive.addfile(harmless, io.BytesIO(b"h"))
        info = tarfile.TarInfo(name)
        info.type = {"file": tarfile.REGTYPE, "folder": tarfile.DIRTYPE,
                     "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
        info.linkname = "../../outside" if kind in ("symlink", "hardlink") else ""
        info.size = 4 if kind == "file" else 0
        archive.addfile(info, io.BytesIO(b"evil") if kind == "file" else None)


@settings(max_examples=150, deadline=None)
@given(member=archive_members(), fmt=st.sampled_from(["zip", "tar"]),
       strip_prefix=st.sampled_from(["", "a/", "a"]))
def test_safe_extract_writes_inside_dest_or_refuses_and_writes_nothing(member, fmt, strip_prefix):
    name, kind = member
    with tempfile.TemporaryDirectory() as folder:
        sandbox = Path(folder).resolve()
        name = name.replace(OUTSIDE, str(sandbox / "outside"))
        archive, dest = sandbox / f"archive.{fmt}", sandbox / "extracted" / "dest"
        write_one_member_archive(archive, fmt, name, kind)
        try:
            written = safe_extract(archive, dest, strip_prefix=strip_prefix)
        except UnsafeArchiveError as error:
            stored_name = name.rstrip("/") if fmt == "tar" else name  # tar drops a folder's "/"
            assert repr(stored_name) in str(error) and str(error).endswith("refused")
            assert ("is a link" in str(error)) == (kind in ("symlink", "hardlink"))
            assert files_under(sandbox) == [archive]  # nothing written anywhere, dest included
            return
        assert kind in ("file", "folder"), "a link was extracted"
        assert all(path.is_relative_to(dest) and path != dest for path in written)
        everything = set(files_under(sandbox)) - {archive, sandbox / "extracted", dest}
        assert all(path.is_relative_to(dest) for path in everything)
        assert dest.is_dir() and dest / "harmless.txt" in written


@pytest.mark.parametrize("name,strip_prefix", [(".", ""), ("./.", ""), ("top/.", "top/")])
@pytest.mark.parametrize("fmt", ["zip", "tar"])
def test_safe_extract_refuses_a_file_that_names_dest_itself(tmp_path, name, strip_prefix, fmt):
    archive = tmp_path / f"a.{fmt}"
    write_one_member_archive(archive, fmt, name, "file")
    dest = tmp_path / "out" / "dest"
    with pytest.raises(UnsafeArchiveError, match=re.escape(repr(name))):
        safe_extract(archive, dest, strip_prefix=strip_prefix)
    assert not (tmp_path / "out").exists()


def test_safe_extract_rejects_other_files(tmp_path):
    path = tmp_path / "not_an_archive.bin"  # a name ending .zip or .tar must be that archive
    path.write_bytes(b"plain text")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_extract(path, tmp_path / "dest")


# --------------------------------------------------------------------------- fetch_archives


def test_fetch_archives_extracts_removes_and_skips_on_rerun(server, tmp_path):
    data = make_zip(tmp_path / "src.zip", {"d/f.txt": b"content"})
    server.files["/src.zip"] = data
    remote = RemoteFile("src.zip", server.url + "/src.zip", md5_of(data), len(data))
    folder = tmp_path / "data"
    assert fetch_archives([remote], folder, progress=False) == [folder / "d" / "f.txt"]
    assert not (folder / "src.zip").exists()
    assert (folder / ".src.zip.extracted").exists()

    fetch_archives([remote], folder, progress=False)
    assert len(server.requests) == 1  # the second run downloaded nothing


def test_fetch_archives_prints_md5_when_none_is_published(server, tmp_path, capsys):
    data = make_zip(tmp_path / "src.zip", {"f.txt": b"x"})
    server.files["/src.zip"] = data
    remote = RemoteFile("src.zip", server.url + "/src.zip", None)
    fetch_archives([remote], tmp_path / "data", keep_archives=True, progress=False)
    assert md5_of(data) in capsys.readouterr().out
    assert (tmp_path / "data" / "src.zip").exists()


def test_licence_needs_yes_when_nobody_can_answer(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert accept_license("THE LICENCE", yes=False) is False
    assert accept_license("THE LICENCE", yes=True) is True
    assert "THE LICENCE" in capsys.readouterr().out


# --------------------------------------------------------------------------- TAU script


def test_tau_pinned_list_is_complete():
    tau = load_script("download_tau2020_mobile")
    expected = {"meta", "doc"} | {f"audio.{n}" for n in range(1, 17)}
    assert set(tau.PINNED) == expected
    for md5, size in tau.PINNED.values():
        assert re.fullmatch(r"[0-9a-f]{32}", md5)
        assert size > 0
    assert len({md5 for md5, _ in tau.PINNED.values()}) == 18
    assert 26e9 < sum(size for _, size in tau.PINNED.values()) < 28e9

    files = tau.tau_files(tau.selected_parts(None, None))
    assert len(files) == 18
    assert files[2].url == ("https://zenodo.org/record/3819968/files/"
                            "TAU-urban-acoustic-scenes-2020-mobile-development.audio.1.zip"
                            "?download=1")


def test_tau_part_selection():
    tau = load_script("download_tau2020_mobile")
    assert tau.selected_parts(["meta"], [1]) == ["meta", "audio.1"]
    assert tau.selected_parts(["doc"], None) == ["doc"]
    assert tau.selected_parts(["audio"], None) == [f"audio.{n}" for n in range(1, 17)]
    assert tau.selected_parts(None, [3, 2]) == ["audio.3", "audio.2"]


@pytest.fixture
def tau_server(server, tmp_path):
    """The TAU meta zip and audio part 1 as tiny fakes; returns their pinned table."""
    top = "TAU-urban-acoustic-scenes-2020-mobile-development/"
    meta = make_zip(tmp_path / "meta.zip", {
        top: b"",
        top + "meta.csv": b"filename\tscene_label\tidentifier\tsource_label\n",
        top + "evaluation_setup/fold1_train.csv": b"filename\tscene_label\n",
    })
    audio = make_zip(tmp_path / "audio1.zip", {top + "audio/park-x-1-0-a.wav": b"RIFF"})
    server.files[f"/{top[:-1]}.meta.zip"] = meta
    server.files[f"/{top[:-1]}.audio.1.zip"] = audio
    return {"meta": (md5_of(meta), len(meta)), "audio.1": (md5_of(audio), len(audio))}


def test_tau_main_fetches_meta_and_one_part(server, tau_server, tmp_path, capsys):
    tau = load_script("download_tau2020_mobile")
    root = tmp_path / "tau"
    argv = ["--root", str(root), "--only", "meta", "--parts", "1",
            "--base-url", server.url, "--yes"]
    assert tau.main(argv, pinned=tau_server) == 0
    assert (root / "meta.csv").is_file()
    assert (root / "evaluation_setup" / "fold1_train.csv").is_file()
    assert (root / "audio" / "park-x-1-0-a.wav").read_bytes() == b"RIFF"
    assert not list(root.glob("*.zip"))
    out = capsys.readouterr().out
    assert "non-commercial" in out
    assert f"audioprune_lite.data.load_scenes({str(root)!r}, \"train\")" in out


def test_tau_main_reports_a_bad_checksum(server, tau_server, tmp_path, capsys):
    tau = load_script("download_tau2020_mobile")
    pinned = {"meta": ("f" * 32, 1)}
    argv = ["--root", str(tmp_path / "tau"), "--only", "meta", "--base-url", server.url,
            "--yes"]
    assert tau.main(argv, pinned=pinned) == 1
    error = capsys.readouterr().err
    assert "MD5 mismatch" in error and "f" * 32 in error
    assert not (tmp_path / "tau" / "meta.csv").exists()


def test_tau_main_network_error_exits_1(tmp_path, capsys):
    tau = load_script("download_tau2020_mobile")
    argv = ["--root", str(tmp_path / "tau"), "--only", "meta", "--yes",
            "--base-url", "http://127.0.0.1:9"]  # the discard port: connection refused
    assert tau.main(argv) == 1
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--parts", "17"], ["--parts", "a"], ["--only", "video"]])
def test_tau_main_bad_arguments_exit_2(argv, tmp_path):
    tau = load_script("download_tau2020_mobile")
    assert tau.main([*argv, "--root", str(tmp_path / "tau"), "--yes"]) == 2
    assert not (tmp_path / "tau").exists()


def test_tau_main_without_licence_acceptance_exits_2(monkeypatch, tmp_path):
    tau = load_script("download_tau2020_mobile")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert tau.main(["--root", str(tmp_path / "tau"), "--only", "meta"]) == 2
    assert not (tmp_path / "tau").exists()


# --------------------------------------------------------------------------- ESC-50 script


@pytest.fixture
def esc_archive(tmp_path):
    """A fake ESC-50 commit archive with 2000 empty clips; returns (script, bytes)."""
    esc = load_script("download_esc50")
    top = f"ESC-50-{esc.COMMIT}/"
    names = [f"1-{n}-A-{n % 50}.wav" for n in range(esc.N_CLIPS)]
    table = "filename,fold,target,category,esc10,src_file,take\n" + "".join(
        f"{name},1,{n % 50},dog,False,{n},A\n" for n, name in enumerate(names)
    )
    members = {top: b"", top + "meta/esc50.csv": table.encode()}
    members.update({top + "audio/" + name: b"" for name in names})
    return esc, make_zip(tmp_path / "esc.zip", members)


def test_esc50_main_end_to_end(server, esc_archive, tmp_path, capsys):
    esc, data = esc_archive
    server.files[f"/{esc.COMMIT}.zip"] = data
    root = tmp_path / "esc50"
    argv = ["--root", str(root), "--base-url", server.url, "--md5", md5_of(data), "--yes"]
    assert esc.main(argv) == 0
    assert (root / "meta" / "esc50.csv").is_file()
    assert len(list((root / "audio").glob("*.wav"))) == esc.N_CLIPS
    out = capsys.readouterr().out
    assert "CC BY-NC 3.0" in out
    assert f"audioprune_lite.data.load_esc50({str(root)!r})" in out


def test_esc50_main_without_md5_prints_it(server, esc_archive, tmp_path, capsys):
    esc, data = esc_archive
    server.files[f"/{esc.COMMIT}.zip"] = data
    argv = ["--root", str(tmp_path / "esc50"), "--base-url", server.url, "--yes"]
    assert esc.main(argv) == 0
    assert md5_of(data) in capsys.readouterr().out


def test_esc50_main_rejects_an_archive_that_is_not_esc50(server, tmp_path, capsys):
    esc = load_script("download_esc50")
    top = f"ESC-50-{esc.COMMIT}/"
    data = make_zip(tmp_path / "x.zip", {top + "meta/esc50.csv": b"filename\n1-1-A-0.wav\n"})
    server.files[f"/{esc.COMMIT}.zip"] = data
    argv = ["--root", str(tmp_path / "esc50"), "--base-url", server.url, "--yes"]
    assert esc.main(argv) == 1
    assert "does not look like ESC-50" in capsys.readouterr().err


def test_esc50_main_bad_md5_argument_exits_2(tmp_path):
    esc = load_script("download_esc50")
    assert esc.main(["--md5", "123", "--root", str(tmp_path / "e"), "--yes"]) == 2
