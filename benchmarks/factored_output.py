"""The class-factored output layer against a full softmax and an adaptive softmax: time per batch.

70,000 outputs in 300 classes of equal size (`seqlab.nn.balanced_classes`), as the clinical
notes case study's illnesses and illness classes (docs/theory.md), hidden size 256, batch 256.
Three output layers over the same h:

- full: `nn.Linear(256, 70000)` + `F.cross_entropy` (70,000 dot products per example);
- factored: `seqlab.nn.FactoredSoftmax` (300 + |class(y)| ≈ 533 per example in its loss);
- adaptive: `nn.AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017), cutoffs 2,000 and 10,000,
  div_value 4, as seqlab's cpu-lstm language-model preset.

For each it times a training step (forward + backward of the mean loss), scoring (the targets'
log-probabilities without gradients) and the full distribution (`log_prob` over all outputs
without gradients), the median of `--repeats` after a warm-up, and records the ratios measured
in this one run. Targets are drawn uniformly and, in a second run, from a Zipf law (s = 1) over
outputs sorted by frequency, the case the adaptive softmax's frequency cutoffs are made for.

    python benchmarks/factored_output.py            # writes benchmarks/results/factored-output.json
    python benchmarks/factored_output.py --quick    # small sizes, one repeat, prints only
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.nn import FactoredSoftmax, balanced_classes

from common import machine, save_run

BENCHMARK = "factored-output"
LAYERS = ("full", "factored", "adaptive")


def targets(kind: str, num_outputs: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """n target ids: uniform, or Zipf (P(y) ∝ 1 / (y + 1)) with output 0 the most frequent."""
    if kind == "uniform":
        return torch.randint(0, num_outputs, (n,), generator=generator)
    weights = 1.0 / torch.arange(1, num_outputs + 1, dtype=torch.float64)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def build(hidden: int, num_outputs: int, num_classes: int, cutoffs: list[int]) -> dict:
    """The three output layers, seeded."""
    torch.manual_seed(0)
    return {
        "full": nn.Linear(hidden, num_outputs),
        "factored": FactoredSoftmax(hidden, balanced_classes(num_outputs, num_classes)),
        "adaptive": nn.AdaptiveLogSoftmaxWithLoss(hidden, num_outputs, cutoffs, div_value=4.0),
    }


def operations(layer: nn.Module, name: str, h: torch.Tensor, y: torch.Tensor) -> dict:
    """Callables for the train step, scoring and full distribution of one layer."""

    def loss() -> torch.Tensor:
        if name == "full":
            return F.cross_entropy(layer(h), y)
        return layer.loss(h, y) if name == "factored" else layer(h, y).loss

    def score() -> torch.Tensor:  # log P(y | h) of the targets
        if name == "full":
            return -F.cross_entropy(layer(h), y, reduction="none")
        return layer.target_log_prob(h, y) if name == "factored" else layer(h, y).output

    def distribution() -> torch.Tensor:  # log P(. | h) over every output
        return F.log_softmax(layer(h), dim=-1) if name == "full" else layer.log_prob(h)

    def train_step() -> None:
        layer.zero_grad(set_to_none=True)
        loss().backward()

    def no_grad(f: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                f()

        return run

    return {
        "train_step": train_step,
        "score": no_grad(score),
        "distribution": no_grad(distribution),
    }


def median_ms(f: Callable[[], None], repeats: int, warmup: int) -> float:
    """Median wall time of f in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(args: argparse.Namespace, kind: str) -> dict:
    """Every layer's times for one target distribution, and the ratios measured together."""
    g = torch.Generator().manual_seed(1)
    h = torch.randn(args.batch, args.hidden, generator=g)
    y = targets(kind, args.outputs, args.batch, g)
    layers = build(args.hidden, args.outputs, args.classes, args.cutoffs)
    with torch.no_grad():
        err = (layers["factored"].log_prob(h).exp().sum(-1) - 1).abs().max().item()
    metrics: dict[str, float] = {}
    # Interleave the layers inside each operation, so a slow phase of the machine hits all three.
    for op in ("train_step", "score", "distribution"):
        for name in LAYERS:
            f = operations(layers[name], name, h, y)[op]
            metrics[f"{op}_ms_{name}"] = round(median_ms(f, args.repeats, args.warmup), 3)
    for op in ("train_step", "score", "distribution"):
        fac = metrics[f"{op}_ms_factored"]
        metrics[f"ratio_full_over_factored_{op}"] = round(metrics[f"{op}_ms_full"] / fac, 2)
        metrics[f"ratio_adaptive_over_factored_{op}"] = round(metrics[f"{op}_ms_adaptive"] / fac, 2)
    for name in LAYERS:
        metrics[f"params_{name}"] = sum(p.numel() for p in layers[name].parameters())
    metrics["factored_max_prob_sum_error"] = err
    return metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat, no file")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--outputs", type=int, default=70_000)
    parser.add_argument("--classes", type=int, default=300)
    parser.add_argument("--cutoffs", type=int, nargs="+", default=[2_000, 10_000])
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.warmup, args.batch, args.hidden = 1, 1, 16, 32
        args.outputs, args.classes, args.cutoffs = 2_000, 20, [100, 500]
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python benchmarks/factored_output.py " + " ".join(sys.argv[1:])
    for kind in ("uniform", "zipf"):
        metrics = measure(args, kind)
        entry = {
            "name": f"{args.outputs}-outputs-{args.classes}-classes-{kind}-targets",
            "tags": ["baseline"],
            "metrics": metrics,
            "params": metrics["params_factored"],
            "settings": {
                "batch": args.batch,
                "hidden": args.hidden,
                "outputs": args.outputs,
                "classes": args.classes,
                "adaptive_cutoffs": args.cutoffs,
                "targets": kind,
                "repeats": args.repeats,
            },
            "command": command.strip(),
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
        }
        print(json.dumps(entry, indent=2), flush=True)
        if not args.quick:
            save_run(BENCHMARK, entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
