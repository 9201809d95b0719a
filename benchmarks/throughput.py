"""Throughput: seqlab Trainer + data pipeline + fused LSTM classifier vs a bare torch.nn.LSTM loop.

All train the same LSTM classifier (embedding -> LSTM -> state after the last real token -> one
logit, Adam, binary cross-entropy) over the same IMDB batches. The bare loop runs twice: unpacked
(the output at each row's last real step, as seqlab does; the headline ratio) and packed (the
textbook form, several times slower on CPU). seqlab's side runs the real pipeline:
DataLoader with BucketBatchSampler and pad_collate, the Trainer (progress bookkeeping, JSONL log,
last.pt written every epoch); the bare loops go over the same batches already collated in
memory, so every overhead of seqlab is counted against it. They alternate for `--rounds`
rounds of one epoch each (after one warm-up round), so both see the same machine load; the
ratio of the medians is reported.

    python benchmarks/throughput.py --limit 2000   # writes benchmarks/results/throughput.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqlab.config import run_from_options
from seqlab.tasks.base import make_loader
from seqlab.tasks.classify import TASK
from seqlab.tasks.configs import ClassifyRun
from seqlab.train import TrainConfig, Trainer
from seqlab.train.device import cpu_name, seed_everything

RESULTS = Path(__file__).parent / "results" / "throughput.json"


class BareLSTM(nn.Module):
    """The plain PyTorch model: nn.Embedding, nn.LSTM, nn.Linear.

    `packed=True` is the textbook loop (pack_padded_sequence, final h). `packed=False` runs the
    LSTM over the padded batch and reads the output at each row's last real step, which is the
    same function (a forward LSTM is causal) and what seqlab's classifier does; it is the faster
    of the two on CPU, so it is the honest baseline for seqlab's overhead.
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, packed: bool = True) -> None:
        super().__init__()
        self.packed = packed
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T), lengths (B,) -> logits (B, 1)."""
        x = self.embedding(ids)  # (B, T, C)
        if not self.packed:
            out, _ = self.lstm(x)  # (B, T, H)
            return self.fc(
                out[torch.arange(ids.size(0)), lengths - 1]
            )  # output at the last real step
        if int(lengths.min()) == ids.size(1):  # no padding (common: texts cut to max_length)
            _, (h, _) = self.lstm(x)  # h: (1, B, H)
        else:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
        return self.fc(h[-1])


def bare_epoch(model: BareLSTM, opt: torch.optim.Optimizer, batches: list[dict]) -> float:
    """One epoch of the bare loop; returns its wall time."""
    start = time.perf_counter()
    for b in batches:
        opt.zero_grad(set_to_none=True)
        logits = model(b["ids"], b["lengths"])
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], b["labels"].float())
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    """Run the side-by-side measurement and write benchmarks/results/throughput.json."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=2000, help="IMDB training texts (default: 2000)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per text (default: 256)")
    p.add_argument("--embed", type=int, default=100, help="embedding size (default: 100)")
    p.add_argument("--hidden", type=int, default=100, help="LSTM hidden size (default: 100)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    p.add_argument("--data-dir", help="data folder (default: $SEQLAB_DATA or ../shared/data)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    options = {
        "data": "imdb",
        "data_dir": args.data_dir,
        "limit": args.limit,
        "model": "lstm",
        "embed": args.embed,
        "hidden": args.hidden,
        "max_length": args.max_length,
        "seed": 0,
    }
    run = run_from_options(ClassifyRun, options, "benchmarks/throughput.py")
    data = TASK.load_data(run)
    loader = make_loader(data.train, args.batch_size, shuffle=True, seed=0)
    loader.batch_sampler.set_epoch(0)  # the Trainer's first (and only) epoch uses this order
    batches = list(loader)
    tokens = int(sum(b["lengths"].sum() for b in batches))

    seqlab_times, bare_times, packed_times = [], [], []
    train_cfg = TrainConfig(epochs=1, batch_size=args.batch_size, lr=1e-3, quiet=True)
    for r in range(args.rounds + 1):  # round 0 warms up kernels and caches; not counted
        seed_everything(0)
        model = TASK.build_model(run, data)
        with tempfile.TemporaryDirectory() as out:
            trainer = Trainer(model, train_cfg, loader, out_dir=out, meta={"task": "classify"})
            start = time.perf_counter()
            trainer.fit()
            seqlab_times.append(time.perf_counter() - start)
        for packed, times in ((False, bare_times), (True, packed_times)):
            seed_everything(0)
            bare = BareLSTM(data.vocab_size, args.embed, args.hidden, packed)
            opt = torch.optim.Adam(bare.parameters(), lr=1e-3)
            times.append(bare_epoch(bare, opt, batches))
        print(
            f"round {r}: seqlab {seqlab_times[-1]:.2f}s  bare {bare_times[-1]:.2f}s  "
            f"bare packed {packed_times[-1]:.2f}s"
        )
        if r == 0:
            for times in (seqlab_times, bare_times, packed_times):
                times.clear()

    seqlab_s, bare_s = statistics.median(seqlab_times), statistics.median(bare_times)
    packed_s = statistics.median(packed_times)
    ratio = seqlab_s / bare_s
    params = sum(p.numel() for p in model.parameters())
    print(f"ratio {ratio:.3f} (target <= 1.2); {tokens / seqlab_s:,.0f} tokens/s with seqlab")
    cpu = cpu_name()
    command = (
        f"python benchmarks/throughput.py --limit {args.limit} --max-length {args.max_length} "
        f"--embed {args.embed} --hidden {args.hidden} --batch-size {args.batch_size} "
        f"--rounds {args.rounds}" + (f" --threads {args.threads}" if args.threads else "")
    )
    run = {
        "name": f"lstm-{args.embed}-{args.hidden}-trainer-vs-bare",
        "tags": ["rnn"],
        "metrics": {
            "ratio_trainer_over_bare": round(ratio, 4),
            "ratio_trainer_over_bare_packed": round(seqlab_s / packed_s, 4),
            "tokens_per_s": round(tokens / seqlab_s),
            "bare_tokens_per_s": round(tokens / bare_s),
            "bare_packed_tokens_per_s": round(tokens / packed_s),
        },
        "params": params,
        "epochs": args.rounds,
        "train_wall_s": round(sum(seqlab_times), 2),
        "tokens_per_s": round(tokens / seqlab_s),
        "seqlab_epoch_s": [round(t, 3) for t in seqlab_times],
        "bare_epoch_s": [round(t, 3) for t in bare_times],
        "bare_packed_epoch_s": [round(t, 3) for t in packed_times],
        "command": command,
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores ({torch.get_num_threads()} torch threads), {cpu}, "
        f"torch {torch.__version__}",
    }
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": []}
    runs = [r for r in previous["runs"] if r["name"] != run["name"]] + [run]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "throughput", "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
