"""Cached against uncached generation: same tokens, and how much faster the cache is.

For the course's Transformer (key/value cache) and seqlab's cpu-lstm (carried state), both at
WikiText-2's course vocabulary, this samples `--tokens` new tokens for 3 texts twice with the
same seed: once carrying the state (`seqlab.decoding.generate(cached=True)`), once re-running the
model over the whole prefix for every token, as the course's reference `generate` does, and
records the speed ratio measured in this one run. It checks that the tokens are identical in
float64; in float32 the two paths round differently (about 1e-6 in the logits), so a draw that
lands that close to a boundary of the sampling CDF can pick the neighbouring word, and the first
such position is recorded. Weights are the seeded initialisation (speed does not depend on
training); pass checkpoints with `--checkpoint NAME=PATH` to use trained ones.

    python benchmarks/lm_generate.py              # writes benchmarks/results/lm_generate.json
"""

from __future__ import annotations

import argparse
import copy
import datetime
import sys
import time

import torch

from seqlab.config import run_from_options
from seqlab.decoding import generate
from seqlab.tasks import load
from seqlab.tasks.configs import LMRun
from seqlab.tasks.lm import TASK
from seqlab.tasks.presets import LM_PRESETS

from common import machine, save_run

VOCAB = 28_784  # the course's lower-cased basic_english vocabulary of WikiText-2


def timed(model, prompt: torch.Tensor, new: int, cached: bool, seed: int) -> tuple:
    """(tokens, seconds) of one generation."""
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    out = generate(model, prompt, new, temperature=1.0, generator=g, cached=cached)
    return out, time.perf_counter() - start


def first_difference(a: torch.Tensor, b: torch.Tensor) -> int | None:
    """The first generated position (0-based, over all texts) where a and b differ, or None."""
    differ = (a != b).any(dim=0).nonzero()
    return None if len(differ) == 0 else int(differ[0]) - 1  # minus the 1-token prompt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200, help="new tokens per text")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoints = dict(c.split("=", 1) for c in args.checkpoint)
    cmd = f"python benchmarks/lm_generate.py --tokens {args.tokens}" + (
        f" --threads {args.threads}" if args.threads else ""
    )
    for preset in ("course", "cpu-lstm"):
        if preset in checkpoints:
            model = load(checkpoints[preset], task="lm").model
        else:
            run = run_from_options(LMRun, LM_PRESETS[preset], f"preset {preset}")
            torch.manual_seed(0)
            model = TASK.make_model(run, vocab_size=VOCAB).eval()
        prompt = torch.randint(4, model.config.vocab_size, (3, 1), generator=torch.Generator())
        timed(model, prompt, 5, True, 0)  # warm-up
        cached, t_cached = timed(model, prompt, args.tokens, True, 1)
        full, t_full = timed(model, prompt, args.tokens, False, 1)
        same = bool(torch.equal(cached, full))
        # Float32 rounding differs between a 1-token step and a whole-prefix pass (~1e-6 in the
        # logits); a draw that lands that close to a boundary of the sampling CDF flips a token.
        # In float64 such flips are out of reach: the exactness check of the cache.
        model64 = copy.deepcopy(model).double()
        cached64 = timed(model64, prompt, args.tokens, True, 1)[0]
        same64 = bool(torch.equal(cached64, timed(model64, prompt, args.tokens, False, 1)[0]))
        entry = {
            "name": f"{preset}-generate-{args.tokens}"
            + (f"-{args.threads}t" if args.threads else ""),
            "tags": ["transformer" if preset == "course" else "rnn"],
            "metrics": {
                "ratio_uncached_to_cached_time": round(t_full / t_cached, 2),
                "cached_tokens_per_s": round(3 * args.tokens / t_cached),
                "uncached_tokens_per_s": round(3 * args.tokens / t_full),
                "identical_tokens": same,
                "identical_tokens_float64": same64,
                "first_difference_float32": first_difference(cached, full),
            },
            "params": sum(p.numel() for p in model.parameters()),
            "command": cmd + "".join(f" --checkpoint {k}={v}" for k, v in checkpoints.items()),
            "date": datetime.date.today().isoformat(),
            "machine": machine(torch.get_num_threads()),
        }
        save_run("lm_generate", entry)
        print(f"{entry['name']}: {entry['metrics']}", flush=True)
        if not same64:
            print("cached and uncached generation differ in float64", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
