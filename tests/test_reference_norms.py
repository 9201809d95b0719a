"""Normalisations of (N, C, H, W) images against torch.nn.functional, without affine parameters."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.commands.examples import NORMS_BATCH
from seqlab.reference import batch_norm, group_norm, instance_norm, layer_norm

SHAPES = [(2, 3, 4, 5), (4, 6, 2, 2), (1, 4, 3, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_norms_match_torch(shape):
    x = np.random.default_rng(sum(shape)).normal(loc=1.5, scale=2.0, size=shape)
    t = torch.from_numpy(x)
    C = shape[1]
    # batch_norm with training=True uses the batch statistics (biased variance), as we do.
    expected = {
        "batch": F.batch_norm(t, None, None, training=True, eps=1e-5),
        "layer": F.layer_norm(t, shape[1:], eps=1e-5),
        "instance": F.instance_norm(t, eps=1e-5),
        "group": F.group_norm(t, 2 if C % 2 == 0 else 1, eps=1e-5),
    }
    ours = {
        "batch": batch_norm(x),
        "layer": layer_norm(x),
        "instance": instance_norm(x),
        "group": group_norm(x, 2 if C % 2 == 0 else 1),
    }
    for name, value in ours.items():
        np.testing.assert_allclose(
            value, expected[name].numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


@pytest.mark.parametrize("shape", SHAPES)
def test_group_norm_spans_instance_to_layer_norm(shape):
    x = np.random.default_rng(7).normal(size=shape)
    np.testing.assert_allclose(group_norm(x, shape[1]), instance_norm(x), rtol=1e-12)
    np.testing.assert_allclose(group_norm(x, 1), layer_norm(x), rtol=1e-12)
    for center_only in (True, False):
        np.testing.assert_allclose(
            group_norm(x, 1, center_only=center_only), layer_norm(x, center_only=center_only)
        )


def test_center_only_subtracts_the_torch_mean():
    x = np.random.default_rng(3).normal(size=(3, 4, 2, 3))
    t = torch.from_numpy(x)
    for norm, dims in ((batch_norm, (0, 2, 3)), (layer_norm, (1, 2, 3)), (instance_norm, (2, 3))):
        expected = t - t.mean(dim=dims, keepdim=True)
        np.testing.assert_allclose(norm(x, center_only=True), expected.numpy(), atol=1e-14)


def test_course_batch_center_only_by_hand():
    # Means of the course's 3×3×2×2 batch, counted by hand from its entries.
    x = NORMS_BATCH
    assert x.shape == (3, 3, 2, 2)
    channel = np.array([7.5, 6.0, 8.5]) / 12  # batch norm: one mean per channel over (N, H, W)
    image = np.array([8.0, 4.0, 10.0]) / 12  # layer norm: one mean per image over (C, H, W)
    per = np.array([[0.5, 0.5, 1.0], [0.5, 0.25, 0.25], [0.875, 0.75, 0.875]])  # instance norm
    np.testing.assert_allclose(batch_norm(x, center_only=True), x - channel[None, :, None, None])
    np.testing.assert_allclose(layer_norm(x, center_only=True), x - image[:, None, None, None])
    np.testing.assert_allclose(instance_norm(x, center_only=True), x - per[:, :, None, None])
    np.testing.assert_allclose(group_norm(x, 3, center_only=True), x - per[:, :, None, None])


def test_constant_input_is_finite_thanks_to_eps():
    out = layer_norm(np.ones((2, 2, 2, 2)))
    assert np.isfinite(out).all() and (out == 0).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: batch_norm(x[0]), r"^x must have shape \(N, C, H, W\)"),
        (lambda x: layer_norm(x[..., None]), r"^x must have shape \(N, C, H, W\)"),
        (lambda x: group_norm(x, 4), r"^groups must divide"),
        (lambda x: group_norm(x, 0), r"^groups must be a positive integer"),
        (lambda x: group_norm(x, 1.5), r"^groups must be a positive integer"),
    ],
)
def test_shape_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.ones((2, 6, 2, 2)))
