"""Language-model training throughput beside the limit implied by FLOPs and the matmul peak.

For each configuration (the course's Transformer and seqlab's cpu-lstm preset, each in float32 and
under bf16 autocast) this trains a few steps through seqlab's own Trainer on WikiText-2 batches
and reports tokens/s. In the same run it measures the machine's matrix-multiply peak (float32 and
bf16 GEMMs) and counts the model's matmul FLOPs per training token (forward 2 FLOPs per
multiply-add, backward twice that), so `ratio_flop_limit` = tokens/s / (peak / FLOPs per token).
A profile of the course configuration shows where the rest of the time goes.

    python benchmarks/lm_throughput.py            # writes benchmarks/results/lm_throughput.json
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections import Counter

import torch

from seqlab.config import run_from_options
from seqlab.tasks.configs import LMRun
from seqlab.tasks.lm import TASK, batches, load_data
from seqlab.tasks.presets import LM_PRESETS
from seqlab.train import CarryState, Perplexity
from seqlab.train.loop import run_epoch
from seqlab.train.optim import build_optimizer

from common import machine, save_run


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Best FLOP/s of an n x n x n GEMM in `dtype` (2 n^3 FLOPs per product)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def flops_per_token(model: torch.nn.Module, run: LMRun, train: torch.Tensor) -> float:
    """Training FLOPs per token of the model's matrix products (6 x multiply-adds)."""
    c = model.config
    C, H, L = c.embed_dim, c.hidden_size, c.num_layers
    if c.arch == "transformer":
        context = (run.data.bptt + 1) / 2  # mean causal context within a window
        macs = L * (4 * C * C + 2 * C * H + 2 * context * C)  # Wq,Wk,Wv,Wo; FFN; QK^T and AV
        out = C
    else:
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[c.arch]
        macs = sum(gates * H * ((C if i == 0 else H) + H) for i in range(L))
        out = H
    if c.adaptive_cutoffs:
        cut = [0, *c.adaptive_cutoffs, c.vocab_size]
        counts = torch.bincount(train, minlength=c.vocab_size).double()
        share = [
            float(counts[a:b].sum() / counts.sum()) for a, b in zip(cut, cut[1:], strict=False)
        ]
        macs += out * (cut[1] + len(cut) - 2)  # the head: frequent words and one per cluster
        for i in range(1, len(cut) - 1):  # tail i: projection, then its words, for its tokens
            h = int(out // 4.0**i)
            macs += share[i] * (out * h + h * (cut[i + 1] - cut[i]))
    else:
        macs += out * c.vocab_size
    return 6 * macs


def throughput(preset: str, amp: bool, steps: int, data: dict) -> dict:
    """Tokens/s of `steps` training steps of a preset through seqlab's run_epoch."""
    run = run_from_options(LMRun, LM_PRESETS[preset], f"preset {preset}")
    tcfg = run.train
    if run.data.tokenizer not in data:
        data[run.data.tokenizer] = load_data(run.data)
    d = data[run.data.tokenizer]
    torch.manual_seed(0)
    model = TASK.make_model(run, vocab_size=len(d.vocab))
    optimizer = build_optimizer(model, tcfg)

    def step(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.clip)
        optimizer.step()

    windows = batches(d.train, tcfg.batch_size, run.data.bptt)
    dev = torch.device("cpu")
    model.train()
    run_epoch(model, windows, Perplexity(), dev, step=step, forward=CarryState(), amp=amp, limit=3)
    start = time.perf_counter()
    run_epoch(
        model, windows, Perplexity(), dev, step=step, forward=CarryState(), amp=amp, limit=steps
    )
    wall = time.perf_counter() - start
    return {
        "model": model,
        "run": run,
        "train": d.train,
        "tokens_per_s": steps * tcfg.batch_size * run.data.bptt / wall,
        "step": step,
        "batches": windows,
    }


def profile(run: dict, steps: int = 10) -> list[dict]:
    """Share of self CPU time per operator over `steps` training steps (the top 8)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model, dev = run["model"], torch.device("cpu")
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        run_epoch(
            model, run["batches"], Perplexity(), dev, step=run["step"], forward=CarryState(),
            limit=steps,
        )  # fmt: skip
    times = Counter()
    for event in prof.key_averages():
        times[event.key] += event.self_cpu_time_total
    total = sum(times.values())
    return [{"op": k, "share": round(v / total, 3)} for k, v in times.most_common(8)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per run")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.1f}")
    data: dict = {}
    threads = torch.get_num_threads()
    cmd = f"python benchmarks/lm_throughput.py --steps {args.steps}" + (
        f" --threads {args.threads}" if args.threads else ""
    )
    from seqlab.train.device import cpu_has_bf16

    # Without native bf16 (AVX2 CPUs), bf16 products are emulated ~100x slower: not worth a run.
    precisions = (False, True) if cpu_has_bf16() else (False,)
    if not cpu_has_bf16():
        print(f"no native bf16 on this CPU ({torch.backends.cpu.get_cpu_capability()}): fp32 only")
    for preset in ("course", "cpu-lstm"):
        for amp in precisions:
            precision = "bf16" if amp else "fp32"
            run = throughput(preset, amp, args.steps, data)
            flops = flops_per_token(run["model"], run["run"], run["train"])
            limit = peaks[precision] / flops
            entry = {
                "name": f"{preset}-{precision}",
                "tags": ["transformer" if preset == "course" else "rnn"]
                + (["course"] if preset == "course" else []),
                "metrics": {
                    "tokens_per_s": round(run["tokens_per_s"]),
                    "flop_limit_tokens_per_s": round(limit),
                    "ratio_flop_limit": round(run["tokens_per_s"] / limit, 3),
                    "matmul_peak_gflops": round(peaks[precision] / 1e9, 1),
                    "train_mflops_per_token": round(flops / 1e6, 2),
                },
                "params": sum(p.numel() for p in run["model"].parameters()),
                "tokens_per_s": round(run["tokens_per_s"]),
                "command": cmd,
                "date": datetime.date.today().isoformat(),
                "machine": machine(threads),
            }
            if preset == "course" and not amp:
                entry["profile"] = profile(run)
            save_run("lm_throughput", entry)
            m = entry["metrics"]
            limit_s = m["flop_limit_tokens_per_s"]
            print(f"{entry['name']}: {m['tokens_per_s']} tokens/s of {limit_s}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
