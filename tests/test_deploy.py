"""Tests of audioprune_lite.deploy: the DCASE complexity rules against the published figures,
ONNX files (float32, float16, int8) against PyTorch, refusals that leave nothing behind, the
median's interval and the latency table."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from audioprune_lite.deploy import (
    OnnxModel,
    UnsupportedModelError,
    complexity,
    export_onnx,
    input_shape_of,
    latency_table,
    median_interval,
    quantise_int8,
    to_float16,
)
from audioprune_lite.metrics import count_macs, count_params_keras
from audioprune_lite.models import DCASE21Baseline, InputShapeError
from audioprune_lite.pruning import mask_filters, prune_model
from audioprune_lite.train import fit

ONE_SECOND = (1, 1, 40, 51)
TEN_SECONDS = (1, 1, 40, 500)
PLAN = {"conv1": [i for i in range(16) if i % 4 != 1], "conv2": [i for i in range(16) if i % 4 != 2],
        "conv3": [i for i in range(32) if i % 4 != 3]}
RULES = ("dcase2021", "dcase2022", "dcase2024")


def scene_like(n: int, seed: int):
    """``n`` inputs of a 1-s clip's shape whose class (0 to 9) is a louder group of four mel
    bands in noise, and their labels: data a network learns in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    louder = np.arange(40)[None, :] // 4 == y[:, None]
    X = rng.normal(size=(n, *ONE_SECOND[1:])) + 2.0 * louder[:, None, :, None]
    return X.astype(np.float32), y


def logits(model: nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(X)).numpy()


@pytest.fixture(scope="module")
def networks() -> dict:
    """The baseline trained for three epochs (seeded; it then classifies ``scene_like`` inputs
    with logits of about 10), and its masked and pruned versions by ``PLAN``; the masked one has
    run a forward and backward pass, as in fine-tuning."""
    X, y = scene_like(320, seed=0)
    torch.manual_seed(0)
    trained = DCASE21Baseline()
    trained.set_input_statistics(X[:256])
    fit(trained, (X[:256], y[:256]), (X[256:], y[256:]), epochs=3, lr=3e-3, batch_size=16,
        seed=0, device="cpu", progress=False)
    masked = mask_filters(trained, PLAN)
    masked(torch.from_numpy(X[:4])).sum().backward()
    return {"unpruned": trained.eval(), "masked": masked.eval(), "pruned": prune_model(trained, PLAN)}


@pytest.fixture(scope="module")
def files(networks, tmp_path_factory) -> dict:
    """The three networks exported (float32), and the unpruned one at float16 and int8
    (calibrated on 64 inputs), each in its own folder."""
    root = tmp_path_factory.mktemp("onnx")
    paths = {name: export_onnx(model, root / name / "model.onnx", ONE_SECOND)
             for name, model in networks.items()}
    paths["float16"] = to_float16(paths["unpruned"], root / "float16" / "model.onnx")
    paths["int8"] = quantise_int8(paths["unpruned"], root / "int8" / "model.onnx",
                                  scene_like(64, seed=1)[0])
    return paths


# --- complexity by the DCASE rules ----------------------------------------------------------

def test_the_baseline_counts_as_published(networks):
    trained = networks["unpruned"]
    counted = complexity(trained, ONE_SECOND, "dcase2021", "float16")
    assert counted["params"] == counted["nonzero_params"] == 46_246 == count_params_keras(trained)
    # not counted: three num_batches_tracked, and input_mean and input_std (40 each)
    assert sum(value.numel() for value in trained.state_dict().values()) == 46_246 + 3 + 80
    assert counted["bytes"] == 92_492 and round(counted["bytes"] / 1024, 1) == 90.3
    assert counted["limit_bytes"] == 131_072 and counted["within_limits"]
    assert counted["macs"] == 29_203_560 == count_macs(trained, ONE_SECOND)
    as_float32 = complexity(trained, ONE_SECOND, "dcase2022", "float32")
    assert as_float32["bytes"] == 184_984 and not as_float32["within_limits"]


@pytest.mark.parametrize("rules", RULES)
def test_zeros_are_free_by_the_2021_rules_only(networks, rules):
    trained, masked = networks["unpruned"], networks["masked"]
    unmasked_count = complexity(trained, ONE_SECOND, rules, "float16")
    masked_count = complexity(masked, ONE_SECOND, rules, "float16")
    # a masked filter zeroes its weights and bias and its batch normalisation's scale and shift
    zeros = sum((getattr(trained, name).out_channels - len(keep))
                * (getattr(trained, name).weight[0].numel() + 3) for name, keep in PLAN.items())
    assert masked_count["params"] == unmasked_count["params"]
    assert masked_count["nonzero_params"] == unmasked_count["nonzero_params"] - zeros
    if rules == "dcase2021":
        assert masked_count["bytes"] == unmasked_count["bytes"] - 2 * zeros
    else:
        assert masked_count["bytes"] == unmasked_count["bytes"]


def test_a_pruned_network_counts_fewer_parameters(networks):
    pruned = networks["pruned"]
    counted = complexity(pruned, ONE_SECOND, "dcase2024", "int8")
    assert counted["params"] == count_params_keras(pruned) < 46_246
    assert counted["bytes"] == counted["params"]


@pytest.mark.parametrize("rules", RULES)
def test_the_mac_limit_applies_from_2022(networks, rules):
    counted = complexity(networks["unpruned"], TEN_SECONDS, rules, "int8")
    assert counted["macs"] > 30_000_000 and counted["bytes"] <= counted["limit_bytes"]
    assert counted["within_limits"] == (rules == "dcase2021")
    assert (counted["limit_macs"] is None) == (rules == "dcase2021")


@pytest.mark.parametrize("rules", ["dcase2023", "2021"])
def test_unknown_rules_are_refused_with_the_known_ones(rules):
    with pytest.raises(ValueError, match=f"{rules!r}.*dcase2021, dcase2022, dcase2024"):
        complexity(DCASE21Baseline(), ONE_SECOND, rules)


@pytest.mark.parametrize("dtype", ["bfloat16", "int4"])
def test_unknown_types_are_refused_with_the_known_ones(dtype):
    with pytest.raises(ValueError, match=f"{dtype!r}.*float32, float16, int8"):
        complexity(DCASE21Baseline(), ONE_SECOND, "dcase2022", dtype)


# --- ONNX files -----------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [8, 1, 5])
@pytest.mark.parametrize("name", ["unpruned", "pruned"])
def test_onnx_runtime_agrees_with_pytorch(networks, files, name, batch):
    X = scene_like(batch, seed=batch)[0]
    np.testing.assert_allclose(OnnxModel(files[name])(X), logits(networks[name], X),
                               rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["unpruned", "masked", "pruned"])
def test_a_file_holds_its_weights_and_describes_its_network(networks, files, name):
    path = files[name]
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    proto = onnx.load(str(path), load_external_data=False)
    assert all(tensor.data_location != onnx.TensorProto.EXTERNAL
               for tensor in proto.graph.initializer)
    metadata = {prop.key: prop.value for prop in proto.metadata_props}
    assert metadata["architecture"] == "DCASE21Baseline"
    config = networks[name].config
    assert json.loads(metadata["config"]) == {**config, "channels": list(config["channels"])}
    assert input_shape_of(path) == ("batch", 1, 40, 51)


def test_a_masked_network_exports_as_the_pruned_one(networks, files):
    X = scene_like(8, seed=0)[0]
    np.testing.assert_allclose(OnnxModel(files["masked"])(X), logits(networks["pruned"], X),
                               rtol=0, atol=1e-5)


def test_int8_is_small_and_mostly_agrees(files):
    float32, int8 = OnnxModel(files["unpruned"]), OnnxModel(files["int8"])
    assert int8.bytes <= 0.4 * float32.bytes
    assert input_shape_of(files["int8"]) == ("batch", 1, 40, 51)
    X = scene_like(64, seed=2)[0]
    agreement = np.mean(int8(X).argmax(axis=1) == float32(X).argmax(axis=1))
    assert agreement >= 0.8


def test_float16_is_half_the_size_and_close(files):
    float32, float16 = OnnxModel(files["unpruned"]), OnnxModel(files["float16"])
    assert 0.45 * float32.bytes <= float16.bytes <= 0.65 * float32.bytes
    X = scene_like(16, seed=3)[0]
    np.testing.assert_allclose(float16(X), float32(X), rtol=0, atol=1e-2)


# --- refusals that leave nothing behind ----------------------------------------------------

@pytest.mark.parametrize("shape", [(10, 1, 40, 50), (0, 1, 40, 51), (1, 40, 51)], ids=str)
def test_calibration_of_another_shape_is_refused(files, tmp_path, shape):
    target = tmp_path / "int8.onnx"
    with pytest.raises(ValueError, match=re.escape("(N >= 1, 1, 40, 51)")):
        quantise_int8(files["unpruned"], target, np.zeros(shape, dtype=np.float32))
    assert list(tmp_path.iterdir()) == []


def narrower_conv2() -> DCASE21Baseline:
    """A working baseline whose conv2 has 8 filters by hand, its config left saying 16."""
    model = DCASE21Baseline()
    model.conv2 = nn.Conv2d(16, 8, 7, padding=3)
    model.bn2 = nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)
    model.conv3 = nn.Conv2d(8, 32, 7, padding=3)
    assert model.eval()(torch.zeros(ONE_SECOND)).shape == (1, 10)
    return model


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(40 * 51, 10)), "cannot export a Sequential"),
    (narrower_conv2, "config .* does not describe its layers"),
], ids=["sequential", "config out of date"])
def test_networks_the_config_does_not_describe_are_refused(tmp_path, make, message):
    with pytest.raises(UnsupportedModelError, match=message):
        export_onnx(make(), tmp_path / "out" / "model.onnx", ONE_SECOND)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_is_named_and_nothing_is_left(networks, tmp_path):
    (tmp_path / "folder").write_text("a file, not a folder")
    target = tmp_path / "folder" / "model.onnx"
    with pytest.raises(OSError) as error:
        export_onnx(networks["pruned"], target, ONE_SECOND)
    assert str(target) in str(error.value)
    assert [p.name for p in tmp_path.rglob("*")] == ["folder"]


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        OnnxModel(tmp_path / "missing.onnx")


# --- the median's interval and the latency table -------------------------------------------

@pytest.mark.parametrize("n, expected", [(30, (10, 21)), (100, (40, 61)), (2, (1, 2))])
def test_the_median_interval_spans_the_expected_order_statistics(n, expected):
    values = np.random.default_rng(n).permutation(np.arange(1, n + 1))
    assert median_interval(values) == expected


def test_the_median_interval_covers_the_median_about_95_percent_of_the_time():
    samples = np.random.default_rng(0).exponential(size=(2000, 30))
    covered = [low <= math.log(2) <= high for low, high in map(median_interval, samples)]
    assert 0.93 <= np.mean(covered) <= 0.98


def test_the_latency_table_times_every_variant_and_restores_the_threads(networks, files):
    before = torch.get_num_threads()
    table = latency_table({"pytorch": networks["pruned"], "onnx": files["pruned"]}, ONE_SECOND,
                          threads=before + 1, repeats=5, warmup=1)
    assert list(table.index) == ["pytorch", "onnx"]
    assert ((table["low_ms"] <= table["median_ms"]) & (table["median_ms"] <= table["high_ms"])).all()
    assert (table["low_ms"] > 0).all()
    assert (table["repeats"] == 5).all() and (table["threads"] == before + 1).all()
    assert torch.get_num_threads() == before


def test_the_latency_table_restores_the_threads_when_a_variant_fails(networks):
    before = torch.get_num_threads()
    with pytest.raises(InputShapeError):
        latency_table({"pytorch": networks["pruned"]}, (1, 1, 40, 4), threads=before + 1)
    assert torch.get_num_threads() == before


def test_the_latency_table_needs_two_repeats(networks):
    with pytest.raises(ValueError, match="repeats must be at least 2"):
        latency_table({"pytorch": networks["pruned"]}, ONE_SECOND, repeats=1)
