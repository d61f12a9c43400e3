"""Tests of audioprune_lite.models and audioprune_lite.metrics."""

from __future__ import annotations

import pytest
import torch
import torchinfo
from torch import nn

from audioprune_lite import published
from audioprune_lite.metrics import (
    count_macs, count_params, count_params_keras, layer_summary, measure_latency, model_size_bytes,
)
from audioprune_lite.models import DCASE21Baseline, VGGishLike


def test_baseline_has_the_published_size():
    model = DCASE21Baseline()
    assert count_params(model) == 46_118
    assert count_params_keras(model) == 46_246
    assert published.PRUNING_TABLE.loc["none", "params (Keras count)"] == 46_246


@pytest.mark.parametrize("row", published.PRUNING_TABLE.index)
def test_keras_count_of_the_papers_pruned_networks_matches_their_table(row):
    pruned = set() if row == "none" else {f"conv{layer[1:]}" for layer in row.split("+")}
    channels = [kept if name in pruned else filters
                for name, (kept, filters) in published.KEPT_FILTERS.items()]
    model = DCASE21Baseline(channels=channels)
    assert count_params_keras(model) == published.PRUNING_TABLE.loc[row, "params (Keras count)"]


def test_keras_count_adds_frozen_weights_and_running_statistics_only():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4),
                          nn.BatchNorm2d(4, track_running_stats=False))
    model[0].weight.requires_grad_(False)
    assert count_params(model) == 4 + 8 + 8  # conv bias, scale and shift of both norms
    assert count_params_keras(model) == 36 + 4 + 8 + 8 + 8  # + frozen weight, first norm's stats


def test_baseline_layer_order_and_kernels():
    model = DCASE21Baseline()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 16, 32]
    assert all(c.kernel_size == (7, 7) and c.padding == (3, 3) for c in convs)
    names = [name for name, _ in model.named_children()]
    assert names[:9] == ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "pool1", "dropout1", "conv3"]
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.3, 0.3, 0.3]
    assert model.dense.in_features == 64 and model.dense.out_features == 100


def test_adaptive_pool_equals_the_original_4x100_pool_on_40x500():
    torch.manual_seed(0)
    model = DCASE21Baseline().eval()
    x = torch.randn(3, 1, 40, 500)
    front = model[:model_index(model, "pool2")]
    feature_map = front((x - model.input_mean) / model.input_std)
    assert feature_map.shape[-2:] == (8, 100)
    torch.testing.assert_close(model.pool2(feature_map), nn.MaxPool2d((4, 100))(feature_map))


def model_index(model, name):
    return [n for n, _ in model.named_children()].index(name)


@pytest.mark.parametrize("frames", [51, 500, 501, 137])
def test_any_clip_length_works(frames):
    assert DCASE21Baseline()(torch.zeros(2, 1, 40, frames)).shape == (2, 10)


@pytest.mark.parametrize("shape", [(2, 40, 500), (2, 2, 40, 500), (2, 1, 64, 500)])
def test_wrong_input_shape_states_the_expected_shape(shape):
    with pytest.raises(ValueError, match=r"\(batch, 1, 40, frames"):
        DCASE21Baseline()(torch.zeros(shape))


def test_channels_build_a_pruned_architecture_from_scratch():
    model = DCASE21Baseline(channels=(11, 11, 22))
    assert count_params(model) == 23_968
    assert model(torch.zeros(1, 1, 40, 100)).shape == (1, 10)
    with pytest.raises(ValueError, match="three positive"):
        DCASE21Baseline(channels=(16, 0, 32))


def test_input_statistics_standardise_each_band():
    model = DCASE21Baseline()
    X = torch.randn(50, 1, 40, 30) * torch.linspace(1, 5, 40).view(1, 1, 40, 1) + 7
    model.set_input_statistics(X)
    standardised = (X - model.input_mean) / model.input_std
    torch.testing.assert_close(standardised.mean(dim=(0, 3)), torch.zeros(1, 40), atol=1e-4, rtol=0)
    torch.testing.assert_close(standardised.std(dim=(0, 3)), torch.ones(1, 40), atol=1e-3, rtol=0)


def test_vggish_like_has_about_55_million_parameters_and_checks_its_input():
    model = VGGishLike()
    assert count_params(model) == 55_361_162
    assert model(torch.zeros(1, 1, 96, 64)).shape == (1, 10)
    with pytest.raises(ValueError, match=r"\(batch, 1, 96, 64\)"):
        model(torch.zeros(1, 1, 64, 96))


def test_baseline_macs_match_the_published_count_and_torchinfo():
    model = DCASE21Baseline()
    macs = count_macs(model, (1, 1, 40, 500))
    assert macs == 15_680_000 + 250_880_000 + 20_070_400 + 6_400 + 1_000  # 286.6 M
    reference = torchinfo.summary(model, (1, 1, 40, 500), verbose=0).total_mult_adds
    assert abs(macs - reference) / reference < 0.02


def test_macs_scale_with_batch_and_layer_summary_adds_up():
    model = DCASE21Baseline()
    assert count_macs(model, (4, 1, 40, 51)) == 4 * count_macs(model, (1, 1, 40, 51))
    table = layer_summary(model, (1, 1, 40, 51))
    assert table["params"].sum() == count_params(model)
    assert table.set_index("layer").loc["pool1", "output_shape"] == (16, 8, 10)
    assert model.training  # the summary restores the mode it found


def test_model_size_grows_with_parameters():
    small, large = DCASE21Baseline(channels=(8, 8, 16)), DCASE21Baseline()
    assert model_size_bytes(large) > model_size_bytes(small)
    assert model_size_bytes(large) > 4 * count_params(large)


def test_latency_reports_median_and_spread_and_restores_threads():
    threads = torch.get_num_threads()
    result = measure_latency(DCASE21Baseline(), (1, 1, 40, 51), repeats=5, threads=1)
    assert 0 < result["p10_s"] <= result["median_s"] <= result["p90_s"]
    assert result["threads"] == 1 and torch.get_num_threads() == threads
