"""DistributedDataParallel: 2 CPU processes under torchrun match one process on the same batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each of R ranks takes 16/R consecutive-stride examples per step (DistributedSampler without
# shuffling), so a step of the 2-process run sees exactly the 16 examples of one single-process
# batch; DDP averages the two half-batch gradients, which equals the full batch's mean gradient.
SCRIPT = """
import json, sys
import torch
from torch.utils.data import DataLoader, DistributedSampler

sys.path.insert(0, {tests!r})
from test_train_trainer import TinyClassifier, TinyConfig, ToyData
from seqlab.train import TrainConfig, Trainer
from seqlab.train.distributed import dist_info, shutdown

info = dist_info()
torch.manual_seed(0)
model = TinyClassifier(TinyConfig())


def loader(data):
    sampler = None
    if info.enabled:
        sampler = DistributedSampler(data, info.world_size, info.rank, shuffle=False)
    return DataLoader(data, batch_size=16 // info.world_size, sampler=sampler)


cfg = TrainConfig(epochs=3, optimizer="sgd", lr=0.5, momentum=0.9, quiet=True)
trainer = Trainer(model, cfg, loader(ToyData(128, seed=1)), loader(ToyData(64, seed=2)),
                  out_dir=sys.argv[1])
history = trainer.fit()
json.dump(history, open(f"{{sys.argv[1]}}/history{{info.rank}}.json", "w"))
shutdown()
"""


def run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    run([sys.executable, str(script), str(tmp_path / "one")])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    run([*torchrun, "--nproc_per_node", "2", str(script), str(tmp_path / "two")])

    single = json.loads((tmp_path / "one" / "history0.json").read_text())
    ranks = [json.loads((tmp_path / "two" / f"history{r}.json").read_text()) for r in (0, 1)]
    # Metrics are all-reduced, so every rank reports the same.
    assert [{**r, "time_s": 0} for r in ranks[0]] == [{**r, "time_s": 0} for r in ranks[1]]
    for a, b in zip(single, ranks[0], strict=True):
        for key in ("train_loss", "valid_loss", "train_accuracy", "valid_accuracy"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key
    assert single[-1]["train_loss"] < single[0]["train_loss"]
    # Only rank 0 writes the log and checkpoints.
    log = (tmp_path / "two" / "log.jsonl").read_text().splitlines()
    assert len(log) == 3
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "best.pt",
        "history0.json",
        "history1.json",
        "last.pt",
        "log.jsonl",
    ]


@pytest.mark.slow
def test_cli_under_torchrun_with_a_rank_that_gets_no_validation_batch(tmp_path, monkeypatch):
    """`torchrun -m seqlab train classify`: 20 validation texts are one batch, so rank 1 has no
    validation batch; the run must still finish, and its sharded validation loss must equal a
    single-process evaluation of the saved model (each example counted exactly once)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_cli_train import write_reviews

    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    data = write_reviews(tmp_path / "reviews.csv", 200)
    out = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    options = ["--data", str(data), "--model", "gru", "--embed", "8", "--hidden", "8"]
    run([*torchrun, "--nproc_per_node", "2", "-m", "seqlab", "train", "classify", *options,
         "--epochs", "2", "--out", str(out), "--quiet"])  # fmt: skip
    logged = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    evaluated = subprocess.run(
        [sys.executable, "-m", "seqlab", "evaluate", str(out / "last.pt"), "--split", "valid"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "(20 examples)" in evaluated
    loss = float(evaluated.split("loss ")[1].split()[0])
    assert loss == pytest.approx(logged["valid_loss"], abs=1e-4)


@pytest.mark.slow
def test_lm_under_torchrun_matches_one_process_with_the_columns_of_both(tmp_path, monkeypatch):
    """Truncated BPTT under DDP: rank r reads its own B of the 2B text columns and carries its
    own state, so 2 processes of batch B equal 1 process of batch 2B (dropout 0)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_tasks_lm import write_corpus

    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    corpus = write_corpus(tmp_path / "corpus.txt", 400)
    common = ["-m", "seqlab", "train", "lm", "--data", str(corpus), "--model", "lstm",
              "--embed", "8", "--hidden", "16", "--dropout", "0", "--bptt", "6",
              "--optimizer", "sgd", "--lr", "1.0", "--epochs", "2", "--quiet"]  # fmt: skip
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    run([*torchrun, "--nproc_per_node", "2", *common, "--batch-size", "4",
         "--eval-batch-size", "2", "--out", str(tmp_path / "two")])  # fmt: skip
    run([sys.executable, *common, "--batch-size", "8", "--eval-batch-size", "4",
         "--out", str(tmp_path / "one")])  # fmt: skip
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    for a, b in zip(one["history"], two["history"], strict=True):
        for key in ("train_loss", "valid_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-5), key
    assert two["test"]["loss"] == pytest.approx(one["test"]["loss"], rel=1e-5)
