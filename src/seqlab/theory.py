"""The assignments' theory questions, each answer backed by a computation (docs/theory.md).

Every function runs one small, seeded computation and returns a `Check`: the claim, the numbers
that were computed and whether they bear the claim out. tests/test_theory.py runs each one and
fails if a claim does not hold; `seqlab examples theory` prints them. The ten true/false
statements are in `seqlab.theory_statements`; `CHECKS` lists all of them.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from seqlab.nn import GRU, FactoredSoftmax, balanced_classes

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks/results/factored-output.json"


@dataclass(frozen=True)
class Check:
    """A claim, the numbers computed for it and whether they bear it out."""

    claim: str
    numbers: dict[str, float]
    holds: bool


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded, and restore the caller's afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def _fit(model: nn.Module, loss: Callable[[], Tensor], steps: int, lr: float) -> None:
    """Full-batch Adam for `steps` steps."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()


def order_notes(
    pairs: int, length: int, dim: int, seed: int, vectors_seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Sequences of note vectors (2·pairs, length, dim) whose label is "note A came before B".

    Each sequence holds note types A and B once and filler notes elsewhere; its twin (the next
    row) swaps A and B and has the other label, so both have the same sum of note vectors.
    The six note types' vectors come from `vectors_seed`, so training and test sets share them.
    """
    vectors = torch.randn(6, dim, generator=torch.Generator().manual_seed(vectors_seed))
    g = torch.Generator().manual_seed(seed)  # note type 0 = A, 1 = B, 2-5 filler
    kinds = torch.randint(2, 6, (pairs, length), generator=g)
    where = torch.rand(pairs, length, generator=g).argsort(1)[:, :2]  # two distinct positions
    first = kinds.scatter(1, where, torch.tensor([0, 1]).expand(pairs, 2))
    twin = kinds.scatter(1, where, torch.tensor([1, 0]).expand(pairs, 2))
    kinds = torch.stack([first, twin], 1).reshape(2 * pairs, length)  # (N, T)
    label = (kinds == 0).float().argmax(1) < (kinds == 1).float().argmax(1)  # A before B
    return vectors[kinds], label.float()  # (N, T, C), (N,)


class _LastState(nn.Module):
    """A GRU over the note vectors, a logit from its last hidden state."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.rnn, self.out = GRU(dim, hidden, backend="fused"), nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.rnn(x)[0][:, -1])[:, 0]  # (B,)


def rnn_against_sum(seed: int = 0, steps: int = 300) -> Check:
    """Clinical notes: an RNN learns an order-dependent label; a network on the sum cannot."""
    x, y = order_notes(512, 6, 8, seed)
    x_test, y_test = order_notes(256, 6, 8, seed + 1)
    with seeded(seed):
        rnn = _LastState(8, 16)
        mlp = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1), nn.Flatten(0))
    _fit(rnn, lambda: F.binary_cross_entropy_with_logits(rnn(x), y), steps, 1e-2)
    _fit(mlp, lambda: F.binary_cross_entropy_with_logits(mlp(x.sum(1)), y), steps, 1e-2)
    with torch.no_grad():
        acc_rnn = ((rnn(x_test) > 0).float() == y_test).float().mean().item()
        acc_sum = ((mlp(x_test.sum(1)) > 0).float() == y_test).float().mean().item()
        twin_gap = (x_test.sum(1)[0::2] - x_test.sum(1)[1::2]).abs().max().item()
    return Check(
        "the label depends on the order of the notes; the sum of the note vectors is the same "
        "for both orders, so a network on the sum is at chance (exactly 0.5 on twin pairs) "
        "while the RNN, reading the notes in order, learns the label",
        {"rnn_test_accuracy": acc_rnn, "sum_test_accuracy": acc_sum, "twin_sum_gap": twin_gap},
        acc_rnn >= 0.9 and abs(acc_sum - 0.5) <= 0.01 and twin_gap < 1e-5,
    )


def softmax_against_sigmoid(seed: int = 0, steps: int = 300) -> Check:
    """Non-exclusive labels: softmax makes present labels compete, independent sigmoids do not."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2000, 10, generator=g)
    y = (x > 0.5).float()  # label l present iff x_l > 0.5: about 3 of 10 labels per example
    with seeded(seed):
        sig, soft = nn.Linear(10, 10), nn.Linear(10, 10)
    _fit(sig, lambda: F.binary_cross_entropy_with_logits(sig(x), y), steps, 0.05)
    soft_target = y / y.sum(1, keepdim=True).clamp_min(1)  # softmax's usual multi-label target
    _fit(soft, lambda: F.cross_entropy(soft(x), soft_target), steps, 0.05)
    several = y.sum(1) >= 2
    with torch.no_grad():
        p_sig, p_soft = torch.sigmoid(sig(x))[several], soft(x).softmax(1)[several]
    present = y[several].bool()

    def all_above_half(p: Tensor) -> float:  # share of examples whose every label gets p > 0.5
        return ((p > 0.5) | ~present).all(1).float().mean().item()

    return Check(
        "softmax probabilities sum to one, so of two labels that are both present at most one "
        "can get p > 0.5; sigmoids give each label its own probability",
        {
            "examples_with_2_or_more_labels": int(several.sum()),
            "all_present_above_0.5_sigmoid": all_above_half(p_sig),
            "all_present_above_0.5_softmax": all_above_half(p_soft),
            "mean_p_present_sigmoid": p_sig[present].mean().item(),
            "mean_p_present_softmax": p_soft[present].mean().item(),
        },
        all_above_half(p_sig) >= 0.8 and all_above_half(p_soft) == 0.0,
    )


def output_cost(outputs: int = 70_000, classes: int = 300, hidden: int = 16) -> Check:
    """Multiply-adds per example of the output layer: full softmax against 300 illness classes.

    Counted by torch's FlopCounterMode on the two layers' losses for 512 uniform targets; the
    factored layer needs the K class scores and the scores of the target's class only.
    """
    g = torch.Generator().manual_seed(0)
    n = 512
    h, y = torch.randn(n, hidden, generator=g), torch.randint(0, outputs, (n,), generator=g)
    class_of = balanced_classes(outputs, classes)
    with seeded(0):
        full, factored = nn.Linear(hidden, outputs), FactoredSoftmax(hidden, class_of)
    counts = []
    for loss in (lambda: F.cross_entropy(full(h), y), lambda: factored.loss(h, y)):
        with FlopCounterMode(display=False) as counter:
            loss()
        counts.append(counter.get_total_flops() / (2 * hidden * n))  # multiply-adds per example
    sizes = torch.bincount(class_of).double()
    expected = classes + (sizes**2).sum().item() / outputs  # K + E|class(y)|, uniform y
    numbers = {"full_per_example": counts[0], "factored_per_example": counts[1]}
    numbers |= {"factored_expected": expected, "ratio": counts[0] / counts[1]}
    numbers |= measured_speedup()
    return Check(
        f"a full softmax computes {outputs} scores per example; the factored layer "
        f"{classes} class scores + the ~{outputs // classes} of the target's class",
        numbers,
        counts[0] == outputs and abs(counts[1] - expected) < 1.0,
    )


def measured_speedup(path: Path = BENCHMARK) -> dict[str, float]:
    """The benchmark's measured time ratios, if benchmarks/results/factored-output.json exists."""
    if not path.is_file():
        return {}
    runs = json.loads(path.read_text())["runs"]
    name = "70000-outputs-300-classes-uniform-targets"  # the case study's sizes
    run = next((r for r in runs if r["name"] == name), None)
    if run is None:
        return {}
    keys = ("ratio_full_over_factored_train_step", "ratio_adaptive_over_factored_train_step")
    return {f"measured_{k}": run["metrics"][k] for k in keys if k in run["metrics"]}


def _bn_loss(w: Tensor, x: Tensor, target: Tensor, readout: Tensor) -> Tensor:
    """Mean squared error of a readout of BatchNorm(x wᵀ): a linear layer, then BatchNorm."""
    z = F.batch_norm(x @ w.T, None, None, training=True, eps=1e-12)  # (N, units)
    return ((z @ readout - target) ** 2).mean()


def batchnorm_scale_invariance(seed: int = 0, eta: float = 0.1) -> Check:
    """∇L(w)ᵀw = 0 for weights followed by BatchNorm; so ‖w‖² grows only O(η²) per GD step."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    target = torch.randn(64, generator=g, dtype=torch.float64)
    readout = torch.randn(3, generator=g, dtype=torch.float64)
    w0 = torch.randn(3, 5, generator=g, dtype=torch.float64)

    def grad(w: Tensor) -> Tensor:
        w = w.detach().requires_grad_()
        return torch.autograd.grad(_bn_loss(w, x, target, readout), w)[0]

    g0 = grad(w0)
    cosine = ((g0 * w0).sum(1) / (g0.norm(dim=1) * w0.norm(dim=1))).abs().max().item()

    def growth(lr: float, steps: int) -> float:  # ‖w‖² after `steps` GD steps minus ‖w0‖²
        w = w0.clone()
        for _ in range(steps):
            w = w - lr * grad(w)
        return (w.square().sum() - w0.square().sum()).item()

    one_step = [growth(eta / 2**k, 1) for k in range(3)]  # one step at η, η/2, η/4
    unit_time = [growth(eta / 2**k, round(2**k / eta)) for k in range(3)]  # time t = 1
    numbers = {"max_abs_cos_grad_w": cosine}
    numbers |= {f"step_growth_eta/{2**k}": v for k, v in enumerate(one_step)}
    numbers |= {"step_growth_ratio": one_step[0] / one_step[1]}
    numbers |= {f"growth_to_t=1_eta/{2**k}": v for k, v in enumerate(unit_time)}
    numbers |= {"norm2_w0": w0.square().sum().item()}
    halves = all(1.8 < unit_time[k] / unit_time[k + 1] < 2.2 for k in range(2))
    return Check(
        "the loss is the same for w and αw, so ∇L(w)·w = 0: one step changes ‖w‖² by exactly "
        "η²‖∇L‖² (halving η quarters it) and up to a fixed time by O(η), zero in the flow limit",
        numbers,
        cosine < 1e-8 and abs(one_step[0] / one_step[1] - 4) < 1e-6 and halves,
    )


def _statements() -> dict[str, Callable[[], Check]]:
    from seqlab import theory_statements as s

    named = enumerate(s.STATEMENTS, 1)
    return {f"statement-{i}-{f.__name__.replace('_', '-')}": f for i, f in named}


def checks() -> dict[str, Callable[[], Check]]:
    """Every check by name, in the order of docs/theory.md."""
    return {
        "notes-rnn-vs-sum": rnn_against_sum,
        "notes-sigmoid-vs-softmax": softmax_against_sigmoid,
        "notes-output-cost": output_cost,
        "batchnorm-scale-invariance": batchnorm_scale_invariance,
    } | _statements()


def run(args: argparse.Namespace) -> int:
    """`seqlab examples theory`: compute and print each check; 1 if any claim failed."""
    from seqlab.errors import SeqlabError

    table = checks()
    names = args.only.split(",") if getattr(args, "only", None) else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SeqlabError(f"--only: unknown checks {unknown}; choose from {', '.join(table)}")
    failed = 0
    for name in names:
        check = table[name]()
        failed += not check.holds
        print(f"{name}: {'holds' if check.holds else 'DOES NOT HOLD'}")
        print(textwrap.fill(check.claim, 96, initial_indent="  ", subsequent_indent="  "))
        for key, value in check.numbers.items():
            shown = f"{value:.6g}" if isinstance(value, float) else value
            print(f"    {key} = {shown}")
        print()
    print(f"{len(names) - failed} of {len(names)} checks hold")
    return 1 if failed else 0
