"""Cached against uncached generation: same tokens, and how much faster the cache is.

For the course's Transformer (key/value cache) and seqlab's cpu-lstm (carried state), both at
WikiText-2's course vocabulary, this samples `--tokens` new tokens for 3 texts twice with the
same seed: once carrying the state (`seqlab.decoding.generate(cached=True)`), once re-running the
model over the whole prefix for every token, as the course's reference `generate` does. It
checks that the tokens are identical and records the speed ratio measured in this one run.
Weights are the seeded initialisation (speed and equality do not depend on training); pass
checkpoints with `--checkpoint NAME=PATH` to use trained ones.

    python benchmarks/lm_generate.py              # writes benchmarks/results/lm_generate.json
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time

import torch

from seqlab.decoding import generate
from seqlab.tasks import lm
from seqlab.tasks.configs import LM_PRESETS, LMConfig

from common import machine, save_run

VOCAB = 28_784  # the course's lower-cased basic_english vocabulary of WikiText-2


def timed(model, prompt: torch.Tensor, new: int, cached: bool, seed: int) -> tuple:
    """(tokens, seconds) of one generation."""
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    out = generate(model, prompt, new, temperature=1.0, generator=g, cached=cached)
    return out, time.perf_counter() - start


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
            model = lm.load_lm(checkpoints[preset])[0]
        else:
            values = LM_PRESETS[preset]
            fields = LMConfig.__dataclass_fields__
            cfg = LMConfig(**{k: v for k, v in values.items() if k in fields})
            torch.manual_seed(0)
            model = lm.build_model(cfg, VOCAB).eval()
        prompt = torch.randint(4, model.config.vocab_size, (3, 1), generator=torch.Generator())
        timed(model, prompt, 5, True, 0)  # warm-up
        cached, t_cached = timed(model, prompt, args.tokens, True, 1)
        full, t_full = timed(model, prompt, args.tokens, False, 1)
        same = bool(torch.equal(cached, full))
        entry = {
            "name": f"{preset}-generate-{args.tokens}",
            "tags": ["transformer" if preset == "course" else "rnn"],
            "metrics": {
                "ratio_uncached_to_cached_time": round(t_full / t_cached, 2),
                "cached_tokens_per_s": round(3 * args.tokens / t_cached),
                "uncached_tokens_per_s": round(3 * args.tokens / t_full),
                "identical_tokens": same,
            },
            "params": sum(p.numel() for p in model.parameters()),
            "command": cmd + "".join(f" --checkpoint {k}={v}" for k, v in checkpoints.items()),
            "date": datetime.date.today().isoformat(),
            "machine": machine(torch.get_num_threads()),
        }
        save_run("lm_generate", entry)
        print(f"{entry['name']}: {entry['metrics']}", flush=True)
        if not same:
            print("cached and uncached generation differ", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
