"""WikiText-2 language-model changes compared at equal training time, on validation perplexity.

Each variant is the tied factored LSTM of `wikitext2-lstm-tied` (`--preset cpu-lstm --adaptive
none --factored 180 --tie-weights --dropout 0.4`) plus its own `seqlab train lm` options. It
trains for a fixed wall-clock budget (`--seconds`, default 200) through seqlab's own `run_epoch`,
with the learning rate laid out over that time instead of over epochs (linear warm-up over the
first 2%, then cosine decay to zero at the end of the budget), and then reports its validation
perplexity. So a change that makes steps faster (a longer bptt) and one that makes them learn
more (a higher learning rate) are compared on the same footing: what the model knows after the
same CPU time. A short budget says which changes learn faster early on; which ends lowest after
an hour is for a full run (benchmarks/wikitext2.py) to say. Budgets are wall-clock, so the
figures move with the machine's speed: run it alone on the cores.

    python benchmarks/lm_equal_time.py                        # every variant, ~4 minutes each
    python benchmarks/lm_equal_time.py --only base,bptt70-lr3e-3-locked
"""

from __future__ import annotations

import argparse
import datetime
import math
import shlex
import sys
import time

import torch

from seqlab.config import add_options, run_from_options
from seqlab.tasks.configs import LMRun
from seqlab.tasks.lm import TASK, batches, load_data
from seqlab.tasks.presets import LM_PRESETS
from seqlab.train import CarryState, Perplexity
from seqlab.train.loop import run_epoch
from seqlab.train.optim import build_optimizer

from common import machine, save_run

BASE = "--preset cpu-lstm --adaptive none --factored 180 --tie-weights --dropout 0.4"
VARIANTS = {
    "base": "",
    "bptt70": "--bptt 70",
    "batch64": "--batch-size 64",
    "lr3e-3": "--lr 3e-3",
    "bptt70-lr3e-3": "--bptt 70 --lr 3e-3",
    "bptt70-lr4e-3": "--bptt 70 --lr 4e-3",
    "bptt70-lr3e-3-locked": "--bptt 70 --lr 3e-3 --locked-dropout",
    "bptt70-lr4e-3-locked": "--bptt 70 --lr 4e-3 --locked-dropout",
}
WARMUP = 0.02


class _OutOfTime(Exception):
    """Raised by the step that would start past the budget."""


def lm_run(options: str) -> LMRun:
    """The LMRun of `seqlab train lm` options (a --preset first, the others over it)."""
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)  # unset stays unset
    parser.add_argument("--preset", choices=tuple(LM_PRESETS))
    add_options(lambda _section: parser, LMRun)
    given = vars(parser.parse_args(shlex.split(options)))
    preset = given.pop("preset", None)
    return run_from_options(LMRun, {**LM_PRESETS.get(preset, {}), **given}, options)


def equal_time(run: LMRun, seconds: float, data) -> dict:
    """Train `run`'s model for `seconds` of wall-clock time; its validation perplexity."""
    torch.manual_seed(run.train.seed)
    model = TASK.make_model(run, vocab_size=len(data.vocab))
    TASK.prepare(model, data)
    optimizer, peak = build_optimizer(model, run.train), run.train.lr
    start, steps = time.perf_counter(), 0

    def step(loss: torch.Tensor) -> None:
        nonlocal steps
        f = (time.perf_counter() - start) / seconds
        if f >= 1:
            raise _OutOfTime
        for group in optimizer.param_groups:
            group["lr"] = peak * min(1.0, f / WARMUP) * 0.5 * (1 + math.cos(math.pi * f))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.train.clip)
        optimizer.step()
        steps += 1

    cpu = torch.device("cpu")
    windows = batches(data.train, run.train.batch_size, run.data.bptt)
    model.train()
    try:
        while True:
            run_epoch(model, windows, Perplexity(), cpu, step=step, forward=CarryState())
    except _OutOfTime:
        pass
    model.eval()
    with torch.no_grad():
        valid = batches(data.valid, run.data.eval_batch_size, run.data.bptt)
        result = run_epoch(model, valid, Perplexity(), cpu, forward=CarryState())
    return {"steps": steps, "tokens": steps * run.train.batch_size * run.data.bptt, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated variants from {', '.join(VARIANTS)}")
    parser.add_argument("--seconds", type=float, default=200.0, help="training time per variant")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    data = None
    for name in names:
        run = lm_run(f"{BASE} {VARIANTS[name]}")
        data = data or load_data(run.data)
        got = equal_time(run, args.seconds, data)
        ppl = got["perplexity"]
        print(f"{name}: valid perplexity {ppl:.2f} after {got['steps']} steps", flush=True)
        only = f"--only {name}" + (f" --seconds {args.seconds:g}" if args.seconds != 200 else "")
        entry = {
            "name": f"wikitext2-equal-time-{name}",
            "tags": ["rnn"],
            "metrics": {
                "valid_perplexity": round(ppl, 2),
                "tokens_per_s": round(got["tokens"] / args.seconds),
            },
            "train_wall_s": args.seconds,
            "steps": got["steps"],
            "options": f"{BASE} {VARIANTS[name]}".strip(),
            "command": f"python benchmarks/lm_equal_time.py {only}",
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
        }
        save_run("lm_equal_time", entry, order=[f"wikitext2-equal-time-{n}" for n in VARIANTS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
