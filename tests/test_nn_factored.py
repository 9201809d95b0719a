"""FactoredSoftmax: an exact class-factored output layer P(y|h) = P(c(y)|h) P(y|c(y),h)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.nn import FactoredSoftmax, balanced_classes, frequency_classes

# 11 outputs in 4 classes of unequal size, not sorted by class.
CLASS_OF = [2, 0, 1, 2, 3, 0, 2, 1, 2, 3, 2]


def layer(dtype=torch.float32, **kw) -> FactoredSoftmax:
    torch.manual_seed(0)
    return FactoredSoftmax(5, CLASS_OF, **kw).to(dtype)


def test_probabilities_sum_to_one_for_any_leading_shape():
    m = layer()
    h = torch.randn(2, 3, 4, 5) * 3
    lp = m.log_prob(h)
    assert lp.shape == (2, 3, 4, 11)
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(2, 3, 4))
    assert torch.equal(m(h), lp)


def test_probability_is_class_times_within_class_probability():
    m = layer()
    h = torch.randn(7, 5)
    class_p = m.class_head(h).softmax(-1)  # (N, K)
    lp = m.log_prob(h)
    for y, k in enumerate(CLASS_OF):
        members = [j for j, c in enumerate(CLASS_OF) if c == k]
        scores = F.linear(h, m.weight[m.row[members]], m.bias[m.row[members]])
        within = scores.softmax(-1)[:, members.index(y)]
        torch.testing.assert_close(lp[:, y].exp(), class_p[:, k] * within)


@pytest.mark.parametrize("bias", [True, False])
def test_loss_equals_minus_gathered_log_prob(bias):
    m = layer(bias=bias)
    h, y = torch.randn(3, 6, 5, requires_grad=True), torch.randint(0, 11, (3, 6))
    y[(y == 4) | (y == 9)] = 0  # no target in class 3 (outputs 4 and 9)
    lp = m.log_prob(h)  # (3, 6, 11)
    want = -lp.gather(-1, y[..., None])[..., 0]
    torch.testing.assert_close(m.loss(h, y, reduction="none"), want)
    torch.testing.assert_close(m.loss(h, y), want.mean())
    torch.testing.assert_close(m.loss(h, y, reduction="sum"), want.sum())
    # And the gradients of the two ways agree (the loss's backward is written by hand), for
    # the inputs and every parameter; the rows of class 3, which no target is in, get zeros.
    wrt = [h, m.weight, *(p for p in m.parameters() if p is not m.weight)]
    g1 = torch.autograd.grad(m.loss(h, y), wrt)
    g2 = torch.autograd.grad(want.mean(), wrt)
    assert (g1[1][m.row[[4, 9]]] == 0).all() and (g1[1][m.row[[0, 1]]] != 0).all()
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)


def test_ignore_index_skips_targets_like_cross_entropy():
    m = layer()
    h, y = torch.randn(8, 5), torch.randint(0, 11, (8,))
    y[[1, 4]] = -100
    keep = y != -100
    lp = m.log_prob(h)
    torch.testing.assert_close(m.loss(h, y), F.nll_loss(lp, y))  # nll_loss ignores -100 too
    none = m.loss(h, y, reduction="none")
    assert (none[~keep] == 0).all()
    torch.testing.assert_close(none[keep], -lp[keep].gather(1, y[keep][:, None])[:, 0])


class _Loss(nn.Module):
    """The layer's per-example loss as a module's forward, for torch.func.functional_call."""

    def __init__(self, m: FactoredSoftmax) -> None:
        super().__init__()
        self.m = m

    def forward(self, h, y):
        return self.m.loss(h, y, reduction="none")


def test_no_targets():
    m = layer()
    h = torch.randn(3, 5, requires_grad=True)
    assert m.target_log_prob(h[:0], torch.zeros(0, dtype=torch.long)).shape == (0,)
    ignored = torch.full((3,), -100)
    assert m.loss(h, ignored, reduction="sum") == 0
    assert torch.equal(m.loss(h, ignored, reduction="none"), torch.zeros(3))


@pytest.mark.parametrize("what", ["loss", "log_prob"])
def test_gradcheck_float64(what):
    m = layer(torch.float64)
    module = _Loss(m) if what == "loss" else m
    prefix = "m." if what == "loss" else ""
    names = [n for n, _ in m.named_parameters()]  # weight, bias, class_head.{weight,bias}
    y = torch.tensor([0, 4, 6, 10, 2])
    inputs = [torch.randn(5, 5, dtype=torch.float64)]
    inputs += [p.detach().clone() for p in m.parameters()]

    def f(h, *params):
        state = {prefix + n: p for n, p in zip(names, params, strict=True)}
        return torch.func.functional_call(module, state, (h, y) if what == "loss" else (h,))

    assert torch.autograd.gradcheck(f, [x.requires_grad_() for x in inputs])


def test_one_class_is_a_full_softmax():
    torch.manual_seed(0)
    m = FactoredSoftmax(5, [0] * 9)
    full = nn.Linear(5, 9)
    with torch.no_grad():
        full.weight.copy_(m.weight[m.row])
        full.bias.copy_(m.bias[m.row])
    h, y = torch.randn(6, 5), torch.randint(0, 9, (6,))
    torch.testing.assert_close(m.log_prob(h), F.log_softmax(full(h), -1))
    torch.testing.assert_close(m.loss(h, y), F.cross_entropy(full(h), y))
    assert torch.equal(m.predict(h), full(h).argmax(-1))


def test_predict_is_the_argmax_of_the_joint_probability():
    m = layer()
    h = torch.randn(20, 5) * 4
    assert torch.equal(m.predict(h), m.log_prob(h).argmax(-1))


def test_loss_multiplies_only_the_target_classes_rows():
    # The weight rows of classes no target belongs to get no gradient: they were not used.
    m = layer()
    y = torch.tensor([1, 5, 1])  # both in class 0
    m.loss(torch.randn(3, 5), y).backward()
    used = m.row_class == 0
    assert m.weight.grad[~used].abs().max() == 0 and m.weight.grad[used].abs().max() > 0
    assert (m.class_head.weight.grad != 0).any()  # the class softmax sees every class


@pytest.mark.parametrize(
    ("class_of", "num_classes", "match"),
    [
        ([0, 1, 5], 3, r"class_of\[2\] = 5 is out of range \[0, 3\)"),
        ([0, -1, 1], None, r"class_of\[1\] = -1 is out of range"),
        ([0, 2, 2], None, r"class\(es\) 1 are empty"),
        ([0, 1, 1], 4, r"class\(es\) 2, 3 are empty"),
        ([], None, "non-empty 1-D"),
        ([[0, 1]], None, "non-empty 1-D"),
        ([0.0, 1.0], None, "integer class ids"),
    ],
)
def test_bad_class_maps_are_clear_errors(class_of, num_classes, match):
    with pytest.raises(ValueError, match=match):
        FactoredSoftmax(4, class_of, num_classes)


def test_bad_inputs_are_clear_errors():
    m = layer()
    with pytest.raises(ValueError, match=r"h must have shape \(\.\.\., 5\)"):
        m.log_prob(torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 11\)"):
        m.loss(torch.randn(2, 5), torch.tensor([0, 11]))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        m.target_log_prob(torch.randn(2, 5), torch.tensor([0]))


def test_class_maps():
    b = balanced_classes(70_000, 300)
    sizes = torch.bincount(b)
    assert sizes.numel() == 300 and sizes.min() >= 233 and sizes.max() <= 234
    counts = torch.tensor([1000.0, 500, 300, 100, 50, 20, 10, 5, 3, 1, 1, 0])
    f = frequency_classes(counts, 4)
    assert torch.bincount(f, minlength=4).min() >= 1 and f.max() == 3
    assert (f.diff() >= 0).all()  # sorted counts: classes by rank, contiguous
    assert f[0] == 0 and (f == 0).sum() == 1  # the most frequent word has a class to itself
    FactoredSoftmax(3, f)  # a valid class map
    # Zipf counts: each class holds about 1/K of the mass (the first word alone holds 0.13).
    zipf = 1 / torch.arange(1, 1001).double()
    z = frequency_classes(zipf, 10)
    mass = torch.zeros(10, dtype=torch.float64).index_add(0, z, zipf) / zipf.sum()
    assert (mass[2:] - 0.1).abs().max() < 0.01 and torch.bincount(z).min() == 1
    one_word_each = frequency_classes(torch.ones(5), 5)
    assert sorted(one_word_each.tolist()) == [0, 1, 2, 3, 4]


def test_assigned_classes_travel_with_the_state_dict():
    """A map assigned after building (from data) is saved; a layer rebuilt with another map of
    the same sizes loads it, class sizes included, and computes the same distribution."""
    torch.manual_seed(0)
    layer = FactoredSoftmax(8, balanced_classes(30, 4), 4)
    counts = torch.arange(30, 0, -1).float() ** 2
    layer.assign_classes(frequency_classes(counts, 4))
    assert layer.sizes == torch.bincount(frequency_classes(counts, 4), minlength=4).tolist()
    assert layer.sizes != [8, 7, 8, 7]  # frequency classes are not the balanced ones
    fresh = FactoredSoftmax(8, balanced_classes(30, 4), 4)
    fresh.load_state_dict(layer.state_dict())
    assert fresh.sizes == layer.sizes
    h, y = torch.randn(5, 8), torch.randint(0, 30, (5,))
    torch.testing.assert_close(fresh.log_prob(h), layer.log_prob(h))
    torch.testing.assert_close(fresh.loss(h, y), -layer.log_prob(h).gather(1, y[:, None]).mean())
    with pytest.raises(ValueError, match="30 entries"):
        layer.assign_classes(balanced_classes(31, 4))
