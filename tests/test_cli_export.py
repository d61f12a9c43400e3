"""The command line's ``export``: the ONNX files it writes, the table it prints, and its errors.

The fixtures and helpers are those of ``test_cli_errors``: a private cache, a baseline
trained for one epoch on the tiny data set, a read-only folder, and the checks that an
error is one line and leaves no half-written file.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import torch

from audioprune_lite import cli, deploy
from audioprune_lite.experiments import default_features
from audioprune_lite.train import evaluate, load_model
from test_cli_errors import (baseline, leftovers, private_cache, read_only,  # noqa: F401 (fixtures)
                             run, the_error)

QUICK = ["--repeats", "3", "--calibration", "16"]


def markdown_rows(out: str) -> dict:
    """The rows of the Markdown table in ``out``, by their first cell: header to cell."""
    lines = [line for line in out.splitlines() if line.startswith("|")]
    header, _, *body = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return {cells[0]: dict(zip(header, cells)) for cells in body}


def onnx_files(folder) -> list:
    """ONNX files and temporary files of an atomic write anywhere under ``folder``."""
    return sorted(folder.rglob("*.onnx")) + leftovers(folder)


def test_export_writes_three_files_and_tables_them(tiny_data, baseline, tmp_path, capsys,
                                                   monkeypatch):
    calibrations = []

    def recording_quantise_int8(source, path, calibration, **kwargs):
        calibrations.append(calibration)
        return quantise_int8(source, path, calibration, **kwargs)

    quantise_int8 = deploy.quantise_int8
    monkeypatch.setattr(deploy, "quantise_int8", recording_quantise_int8)
    out = tmp_path / "onnx"
    code = cli.main(["export", "--data", str(tiny_data), "--model", str(baseline), "--out", str(out),
                     "--float16", "--int8", "--threads", "1,2", *QUICK])
    assert code == 0
    printed = capsys.readouterr().out
    names = ["baseline.onnx", "baseline.float16.onnx", "baseline.int8.onnx"]
    assert sorted(path.name for path in out.iterdir()) == sorted(names)
    rows = markdown_rows(printed)
    assert list(rows) == names
    for name, row in rows.items():
        assert int(row["bytes"].replace(",", "")) == (out / name).stat().st_size
        for threads in ("1 thread", "2 threads"):
            assert re.fullmatch(r"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\)", row[f"latency, {threads} (ms)"])
    # the parameters at 4, 2 and 1 bytes, every one counted from 2022 on
    sizes = [int(rows[name]["DCASE 2022 bytes"].replace(",", "")) for name in names]
    assert sizes[0] == 2 * sizes[1] == 4 * sizes[2]
    assert "batch 1, median of 3 runs" in printed

    features = default_features(tiny_data, progress=False)
    model, exported = load_model(baseline), deploy.OnnxModel(out / "baseline.onnx")
    with torch.no_grad():
        logits = model(torch.from_numpy(features.X_eval)).numpy()
    assert np.allclose(exported(features.X_eval), logits, atol=1e-4)
    by_torch = evaluate(model, features.X_eval, features.y_eval)
    by_onnx = evaluate(exported, features.X_eval, features.y_eval)
    assert np.array_equal(by_onnx["predictions"], by_torch["predictions"])
    assert by_onnx["accuracy"] == pytest.approx(by_torch["accuracy"], abs=1e-9)
    assert float(rows["baseline.onnx"]["accuracy (%)"]) == pytest.approx(
        100 * by_torch["accuracy"], abs=0.05)
    assert (out / "baseline.int8.onnx").stat().st_size < 0.4 * (out / "baseline.onnx").stat().st_size
    (calibration,) = calibrations
    assert np.array_equal(calibration, features.X_train[:16])  # training clips, not evaluation ones


@pytest.mark.parametrize("argv, option", [
    (["--threads", "0"], "--threads"),
    (["--threads", "a"], "--threads"),
    (["--threads", "1,1"], "--threads"),
    (["--repeats", "1"], "--repeats"),
    (["--calibration", "0"], "--calibration"),
])
def test_a_value_out_of_range_is_an_argument_error(capsys, argv, option):
    code, err = run(capsys, "export", "--data", "nowhere", "--model", "m.pt", *argv)
    assert code == 2
    assert option in the_error(err, "export")


def test_a_file_that_is_not_a_model_is_named(capsys, tiny_data, tmp_path):
    notes = tmp_path / "notes.pt"
    notes.write_text("not a model\n")
    code, err = run(capsys, "export", "--data", tiny_data, "--model", notes,
                    "--out", tmp_path / "onnx", *QUICK)
    assert code == 1
    assert str(notes) in the_error(err, "export")
    assert onnx_files(tmp_path) == []


@pytest.mark.parametrize("place", ["read-only", "a file"])
def test_an_unwritable_out_is_refused_before_any_work(capsys, tiny_data, baseline, tmp_path,
                                                      read_only, place):
    out = {"read-only": read_only / "inside" / "onnx", "a file": tmp_path / "taken"}[place]
    if place == "a file":
        out.write_text("a file, not a folder\n")
    code, err = run(capsys, "export", "--data", tiny_data, "--model", baseline, "--out", out,
                    "--float16", "--int8", *QUICK)
    assert code == 1
    assert str(out) in the_error(err, "export")
    assert onnx_files(tmp_path) == [] and onnx_files(baseline.parent) == []


def test_a_missing_deploy_extra_is_one_line_and_exit_code_1(capsys, monkeypatch, tiny_data,
                                                            baseline, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    code, err = run(capsys, "export", "--data", tiny_data, "--model", baseline,
                    "--out", tmp_path / "onnx", *QUICK)
    assert code == 1
    assert err == ("audioprune export: onnxruntime is not installed: "
                   "pip install 'audioprune_lite[deploy]'\n")
    assert onnx_files(tmp_path) == []
