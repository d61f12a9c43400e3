"""Tests of audioprune_lite.pruning.masking: masked filters compute what the surgery's smaller
network computes, the masks made permanent, and the masked state dict."""

from __future__ import annotations

import pytest
import torch

from audioprune_lite.models import DCASE21Baseline
from audioprune_lite.pruning import make_masks_permanent, mask_filters, masked_state_dict, prune_model

PLAN = {"conv1": [0, 2, 3, 7, 9, 15], "conv2": list(range(0, 16, 2)), "conv3": list(range(5, 32))}
MASKED = ("conv1.weight_mask", "conv1.bias_orig", "bn2.weight_mask", "conv3.weight_orig")


@pytest.fixture
def model() -> DCASE21Baseline:
    """The baseline in eval mode with batch normalisation as training leaves it: running
    statistics, scale and shift away from their initial values."""
    torch.manual_seed(0)
    model = DCASE21Baseline()
    with torch.no_grad():
        for norm in (model.bn1, model.bn2, model.bn3):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn((4, 1, 40, 51), generator=torch.Generator().manual_seed(1))


def has_masks(state: dict) -> bool:
    return any(key.endswith(("_orig", "_mask")) for key in state)


def test_masked_filters_compute_what_the_pruned_network_computes(model, x):
    masked = mask_filters(model, PLAN).eval()
    with torch.no_grad():
        torch.testing.assert_close(masked(x), prune_model(model, PLAN).eval()(x), rtol=0, atol=1e-5)
        first_block = masked[:2](x)  # conv1 and bn1
    dropped = [i for i in range(16) if i not in PLAN["conv1"]]
    assert torch.count_nonzero(first_block[:, dropped]) == 0
    assert torch.all(first_block[:, PLAN["conv1"]].abs().amax(dim=(0, 2, 3)) > 0)


def test_masking_leaves_the_original_untouched(model):
    before = {key: value.clone() for key, value in model.state_dict().items()}
    mask_filters(model, PLAN)
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[key], value) for key, value in before.items())


def test_permanent_masks_leave_plain_tensors_and_the_same_outputs(model, x):
    masked = mask_filters(model, PLAN).eval()
    assert set(MASKED) <= set(masked.state_dict())
    with torch.no_grad():
        expected = masked(x)
        assert make_masks_permanent(masked) is masked
        assert not has_masks(masked.state_dict())
        assert masked.state_dict().keys() == model.state_dict().keys()
        torch.testing.assert_close(masked(x), expected, rtol=0, atol=0)


def test_the_masked_state_dict_is_that_of_the_permanent_masks_after_a_forward_pass(model, x):
    masked = mask_filters(model, PLAN).eval()
    # a forward and backward pass, as fine-tuning makes: copy.deepcopy of the network now fails
    masked(x).sum().backward()
    with torch.no_grad():
        expected = masked(x)
    state = masked_state_dict(masked)
    permanent = make_masks_permanent(mask_filters(model, PLAN)).state_dict()
    assert state.keys() == permanent.keys()
    assert all(torch.equal(state[key], value) for key, value in permanent.items())
    assert not any(value.requires_grad for value in state.values())
    assert set(MASKED) <= set(masked.state_dict())
    plain = DCASE21Baseline().eval()
    plain.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(masked(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(plain(x), expected, rtol=0, atol=1e-6)


def test_the_masked_state_dict_of_an_unmasked_network_is_its_state_dict(model):
    state = masked_state_dict(model)
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())
