"""A class-factored output layer: P(y | h) = P(class(y) | h) · P(y | class(y), h).

Goodman (2001), "Classes for fast maximum entropy training"; Morin & Bengio (2005); Mikolov et
al. (2011), "Extensions of recurrent neural network language model", §3. Each of the V outputs
belongs to one of K classes. One softmax over the K classes and one softmax over the words of
each class multiply to an exact distribution over all V outputs (it sums to one), so the layer
is a drop-in output for classifiers and language models.

The speed-up is in training and scoring: the loss of a target y needs the K class scores and the
|class(y)| scores of its own class, K + |class(y)| dot products instead of V. With V = 70,000
in K = 300 equal classes that is 300 + 233 instead of 70,000 (`seqlab.theory.output_cost`
counts them). The full distribution (`log_prob`, `predict`) still costs about V + K.

The output weights are stored sorted by class, so each class's rows are one contiguous slice;
`loss` groups the examples by their target's class and multiplies each group by its slice only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def balanced_classes(num_outputs: int, num_classes: int) -> Tensor:
    """Output y -> class y * K // V: K contiguous classes of equal size (±1)."""
    if not 1 <= num_classes <= num_outputs:
        raise ValueError(f"num_classes must be in [1, {num_outputs}], got {num_classes}")
    return torch.arange(num_outputs) * num_classes // num_outputs


def frequency_classes(counts: Sequence[float] | Tensor, num_classes: int) -> Tensor:
    """Classes by frequency (Mikolov et al. 2011, §3): each holds about 1/K of the total count.

    Outputs are taken from the most to the least frequent, so frequent words sit in small
    classes and rare words in large ones; every class gets at least one output.
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    V = counts.numel()
    if counts.dim() != 1 or not 1 <= num_classes <= V:
        raise ValueError(f"counts must be 1-D with at least num_classes={num_classes} entries")
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    order = counts.argsort(descending=True, stable=True)
    before = (counts[order].cumsum(0) - counts[order]) / counts.sum().clamp_min(1e-300)
    raw = (before * num_classes).floor().long().clamp(0, num_classes - 1)  # (V,) by rank
    # Make the classes contiguous and non-empty: class steps of 0 or 1 from rank to rank
    # (r + cummin(raw - r) <= raw), and at least r - (V - K), so the last class is K - 1.
    rank = torch.arange(V)
    cls = rank + torch.cummin(raw - rank, 0).values
    cls = torch.maximum(cls, rank - (V - num_classes))
    out = torch.empty(V, dtype=torch.long)
    out[order] = cls
    return out


class FactoredSoftmax(nn.Module):
    """Exact two-level softmax over `len(class_of)` outputs in `num_classes` classes.

    `class_of[y]` is output y's class, in [0, num_classes) (default: max + 1); every class
    must hold at least one output. Inputs h have any leading shape: (..., in_features).
    """

    def __init__(
        self,
        in_features: int,
        class_of: Sequence[int] | Tensor,
        num_classes: int | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        class_of = _check_class_map(class_of, num_classes)
        K = int(class_of.max()) + 1 if num_classes is None else num_classes
        V = class_of.numel()
        self.in_features, self.num_outputs, self.num_classes = in_features, V, K
        for name, size in (("class_of", V), ("row", V), ("offsets", K + 1), ("row_class", V)):
            self.register_buffer(name, torch.zeros(size, dtype=torch.long))
        self.sizes: list[int] = []
        self._set_buffers(class_of)
        self.class_head = nn.Linear(in_features, K, bias=bias)  # scores of the K classes
        self.weight = nn.Parameter(torch.empty(V, in_features))  # rows sorted by class
        self.bias = nn.Parameter(torch.empty(V)) if bias else None
        self.reset_parameters()

    def _set_buffers(self, class_of: Tensor) -> None:
        """The buffers of a class map: each output's class and row, each row's class, each
        class's first row."""
        V, K = self.num_outputs, self.num_classes
        order = class_of.argsort(stable=True)  # outputs sorted by class: row r holds order[r]
        sizes = torch.bincount(class_of, minlength=K)
        row = torch.empty_like(order)
        row[order] = torch.arange(V)
        with torch.no_grad():
            self.class_of.copy_(class_of)  # (V,) class of each output
            self.row.copy_(row)  # (V,) row of each output in `weight`
            self.offsets.copy_(torch.cat([sizes.new_zeros(1), sizes.cumsum(0)]))  # (K + 1,)
            self.row_class.copy_(class_of[order])  # (V,) class of each row
        self.sizes = sizes.tolist()

    def assign_classes(self, class_of: Sequence[int] | Tensor) -> None:
        """Give the outputs another class map (same number of outputs and classes), e.g. one
        computed from the training data after the model was built. The weights stay as they
        are: rows drawn independently, so before training any map is as good as another."""
        t = _check_class_map(class_of, self.num_classes)
        if t.numel() != self.num_outputs:
            raise ValueError(f"class_of must have {self.num_outputs} entries, got {t.numel()}")
        self._set_buffers(t.to(self.class_of.device))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)  # type: ignore[arg-type]
        self.sizes = self.offsets.diff().tolist()  # the loaded map's class sizes

    def reset_parameters(self) -> None:
        """nn.Linear's initialisation for the class head and the output weights."""
        self.class_head.reset_parameters()
        bound = self.in_features**-0.5
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        V, K = self.num_outputs, self.num_classes
        return f"in_features={self.in_features}, outputs={V}, classes={K}"

    def _check_input(self, h: Tensor) -> None:
        if h.dim() < 1 or h.size(-1) != self.in_features:
            raise ValueError(f"h must have shape (..., {self.in_features}), got {tuple(h.shape)}")

    def log_prob(self, h: Tensor) -> Tensor:
        """log P(y | h) for every output: h (..., C) -> (..., V), in output order."""
        self._check_input(h)
        class_lp = F.log_softmax(self.class_head(h), dim=-1)  # (..., K)
        scores = F.linear(h, self.weight, self.bias)  # (..., V), rows sorted by class
        cls = self.row_class.expand_as(scores)
        # Log-sum-exp within each class (a segment of the sorted rows); the max shift is a
        # constant for the gradient, so it is detached.
        top = scores.new_full(class_lp.shape, float("-inf"))
        top = top.scatter_reduce(-1, cls, scores.detach(), "amax", include_self=False)
        shifted = (scores - top.gather(-1, cls)).exp()
        lse = top + torch.zeros_like(class_lp).scatter_add(-1, cls, shifted).log()  # (..., K)
        lp = scores - lse.gather(-1, cls) + class_lp.gather(-1, cls)  # (..., V) sorted
        return lp.index_select(-1, self.row)  # back to output order

    def forward(self, h: Tensor) -> Tensor:
        """log P(y | h) for every output, (..., V) (as `log_prob`)."""
        return self.log_prob(h)

    def predict(self, h: Tensor) -> Tensor:
        """The most probable output for each h: (..., C) -> (...,) long (exact argmax)."""
        return self.log_prob(h).argmax(dim=-1)

    def target_log_prob(self, h: Tensor, y: Tensor) -> Tensor:
        """log P(y | h) of the given outputs only: h (..., C), y (...) -> (...).

        Costs K + |class(y)| dot products per example: the examples are grouped by their
        target's class and each group is multiplied by that class's rows of `weight` only.
        """
        self._check_input(h)
        if y.shape != h.shape[:-1]:
            raise ValueError(f"y must have shape {tuple(h.shape[:-1])}, got {tuple(y.shape)}")
        lead = y.shape
        h, y = h.reshape(-1, self.in_features), y.reshape(-1)  # (N, C), (N,)
        if y.numel() and (y.min() < 0 or y.max() >= self.num_outputs):
            raise ValueError(
                f"targets must be in [0, {self.num_outputs}), got {y.min()}..{y.max()}"
            )
        c = self.class_of[y]  # (N,)
        class_lp = F.log_softmax(self.class_head(h), dim=-1).gather(1, c[:, None])[:, 0]
        perm = c.argsort(stable=True)  # examples grouped by class
        within = (self.row[y] - self.offsets[c])[perm]  # target's index inside its class
        counts = torch.bincount(c, minlength=self.num_classes).tolist()
        word_lp = _WithinClass.apply(h[perm], self.weight, self.bias, within, counts, self.sizes)
        return (class_lp + word_lp[perm.argsort()]).reshape(lead)

    def loss(
        self, h: Tensor, y: Tensor, ignore_index: int = -100, reduction: str = "mean"
    ) -> Tensor:
        """Negative log-likelihood of targets y (...) given h (..., C), as `F.cross_entropy`.

        Targets equal to `ignore_index` are skipped; "mean" averages over the others, "sum"
        adds them, "none" returns (...) with zeros at the ignored ones.
        """
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        keep = y != ignore_index  # (...)
        nll = -self.target_log_prob(h[keep], y[keep])  # (M,)
        if reduction == "none":
            return torch.zeros(y.shape, dtype=nll.dtype, device=nll.device).masked_scatter(
                keep, nll
            )
        return nll.sum() if reduction == "sum" else nll.mean()


class _WithinClass(torch.autograd.Function):
    """log P(y | class(y), h) of examples grouped by class, with a hand-written backward.

    Autograd through one slice per class would, in the backward pass, fill a zero tensor the
    size of all the examples for every slice of h and of all V rows for the split of `weight`:
    on a 33k-word vocabulary that was over half of a language model's training step. Here each
    class's gradient is written into its own rows of one gradient tensor: d lp_i / d s_ij =
    [j = y_i] - softmax(s_i)_j, then the same three products as `F.linear`'s backward.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        h: Tensor,  # (N, C), grouped by class
        weight: Tensor,  # (V, C), rows sorted by class
        bias: Tensor | None,  # (V,)
        within: Tensor,  # (N,) each target's index inside its class
        counts: list[int],  # examples per class
        sizes: list[int],  # rows per class
    ) -> Tensor:
        out = h.new_empty(h.size(0))
        probs: list[Tensor] = []  # softmax within the class, (n, |k|) per class with examples
        start = row = 0
        for n, size in zip(counts, sizes, strict=True):
            if n:
                hk, idx = h[start : start + n], within[start : start + n]
                b = None if bias is None else bias[row : row + size]
                s = F.linear(hk, weight[row : row + size], b)  # (n, |k|)
                lse = s.logsumexp(dim=1)
                out[start : start + n] = s.gather(1, idx[:, None])[:, 0] - lse
                probs.append(s.sub_(lse[:, None]).exp_())
            start, row = start + n, row + size
        ctx.save_for_backward(h, weight, within, *probs)
        ctx.counts, ctx.sizes, ctx.has_bias = counts, sizes, bias is not None
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: Tensor):  # type: ignore[override]
        h, weight, within, *probs = ctx.saved_tensors
        grad_h = torch.empty_like(h)
        # Every row is written below (zeros for the classes with no examples), so no fill of
        # all V rows first (7 ms of a WikiText-2 step).
        grad_w = torch.empty_like(weight)
        grad_b = weight.new_empty(weight.size(0)) if ctx.has_bias else None
        start = row = 0
        probs_iter = iter(probs)
        for n, size in zip(ctx.counts, ctx.sizes, strict=True):
            if n:
                gk, idx = g[start : start + n], within[start : start + n]
                ds = next(probs_iter).mul(-gk[:, None])  # (n, |k|)
                ds.scatter_add_(1, idx[:, None], gk[:, None])
                torch.mm(ds, weight[row : row + size], out=grad_h[start : start + n])
                torch.mm(ds.t(), h[start : start + n], out=grad_w[row : row + size])
                if grad_b is not None:
                    torch.sum(ds, dim=0, out=grad_b[row : row + size])
            else:
                grad_w[row : row + size] = 0
                if grad_b is not None:
                    grad_b[row : row + size] = 0
            start, row = start + n, row + size
        return grad_h, grad_w, grad_b, None, None, None


def _check_class_map(class_of: Sequence[int] | Tensor, num_classes: int | None) -> Tensor:
    """class_of as a (V,) long tensor; a clear ValueError for ids out of range or empty classes."""
    t = torch.as_tensor(class_of)
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"class_of must be a non-empty 1-D sequence, got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"class_of must hold integer class ids, got {t.dtype}")
    t = t.long()
    K = int(t.max()) + 1 if num_classes is None else num_classes
    if K < 1:
        raise ValueError(f"num_classes must be >= 1, got {K}")
    bad = ((t < 0) | (t >= K)).nonzero()
    if bad.numel():
        y = int(bad[0])
        raise ValueError(
            f"class_of[{y}] = {int(t[y])} is out of range [0, {K}) "
            f"({bad.numel()} output(s) out of range)"
        )
    empty = (torch.bincount(t, minlength=K) == 0).nonzero()
    if empty.numel():
        ids = ", ".join(str(int(k)) for k in empty[:5, 0])
        more = f" and {empty.numel() - 5} more" if empty.numel() > 5 else ""
        raise ValueError(f"every class needs at least one output; class(es) {ids}{more} are empty")
    return t
