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
from helpers import TinyClassifier, TinyConfig, ToyData
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


# -- one test per task: `torchrun --nproc_per_node 2 -m seqlab ...` against one process ----------
#
# How the global batches are made equal:
# - Length-bucketed tasks (classify, translate, finetune): BucketBatchSampler builds the same
#   batch list of size B whatever the number of ranks and gives rank r batches r, r+2, r+4, ...
#   So a 2-process step sees batches 2k and 2k+1, exactly what one process with `--batch-size B
#   --accumulate 2` sums into one optimizer step. (One process with batch 2B would bucket and
#   shuffle other batches.) DDP's gradient (g0 + g1) / 2 of the two per-rank mean losses is the
#   accumulation's g0 / 2 + g1 / 2 bit for bit (halving is exact), also when the two batches
#   hold different numbers of target tokens (translate), so the weights stay identical; the
#   reported losses are count-weighted sums all-reduced in float64 and differ from one process
#   only by the order of that summation (~1e-16). The batch count must be even: otherwise the
#   sampler repeats a batch so that both ranks take the same number of steps.
# - lm: LMBatches cuts the stream into 2B columns and rank r reads columns rB..rB+B-1, so one
#   process with batch 2B sees the same windows; every rank's batch has B * bptt targets, so
#   the mean of the two ranks' means is the mean over 2B columns. Batches of 2B rather than B
#   rows change float32 rounding only (measured ~1e-8 relative after 2 epochs).
# Dropout is 0 everywhere: every rank is seeded alike, so no dropout mask could match.

DATA = Path(__file__).parent / "fixtures" / "checkpoints" / "data"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
QUESTIONS = ["--data", str(DATA / "questions.csv"), "--text-column", "question",
             "--label-column", "type"]  # fmt: skip
RUN = ["--epochs", "2", "--seed", "1", "--threads", "1", "--quiet"]


def two_vs_one(tmp_path, task, two, one) -> tuple[dict, dict]:
    """results.json of `seqlab *task *two` under torchrun (2 processes) and of `*task *one`."""
    run([*TORCHRUN, "-m", "seqlab", *task, *RUN, *two, "--out", str(tmp_path / "two")])
    run([sys.executable, "-m", "seqlab", *task, *RUN, *one, "--out", str(tmp_path / "one")])
    results = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("two", "one")]
    assert [len(r["history"]) for r in results] == [2, 2]
    return results[0], results[1]


def assert_same_losses(two: dict, one: dict, keys: tuple[str, ...], rel: float) -> None:
    for a, b in zip(one["history"], two["history"], strict=True):
        for key in ("train_loss", "valid_loss", *keys):
            assert b[key] == pytest.approx(a[key], rel=rel, abs=0), (b["epoch"], key)
    assert two["test"]["loss"] == pytest.approx(one["test"]["loss"], rel=rel, abs=0)
    assert one["history"][1]["train_loss"] < one["history"][0]["train_loss"]  # it trained


def test_classify_under_torchrun_matches_one_process_accumulating_two_batches(
    tmp_path, monkeypatch
):
    """168 training questions in 14 batches of 12: 7 steps of 2 x 12 either way."""
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    task = ["train", "classify", *QUESTIONS, "--model", "gru", "--embed", "8", "--hidden", "8",
            "--dropout", "0", "--lr", "0.01"]  # fmt: skip
    two, one = two_vs_one(tmp_path, task, ["--batch-size", "12"], ["--batch-size", "12",
                          "--accumulate", "2"])  # fmt: skip
    assert_same_losses(two, one, ("train_accuracy", "valid_accuracy"), rel=1e-12)


def test_lm_under_torchrun_matches_one_process_of_twice_the_columns(tmp_path, monkeypatch):
    """Truncated BPTT: 2 processes of 8 columns (each carrying its own state) = 1 of 16."""
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    task = ["train", "lm", "--data", str(DATA / "text.txt"), "--model", "lstm", "--embed", "8",
            "--hidden", "16", "--layers", "1", "--dropout", "0", "--bptt", "6",
            "--optimizer", "sgd", "--lr", "1.0"]  # fmt: skip
    two, one = two_vs_one(tmp_path, task, ["--batch-size", "8", "--eval-batch-size", "4"],
                          ["--batch-size", "16", "--eval-batch-size", "8"])  # fmt: skip
    assert_same_losses(two, one, ("train_perplexity", "valid_perplexity"), rel=1e-6)


def test_translate_under_torchrun_matches_one_process_accumulating_two_batches(
    tmp_path, monkeypatch
):
    """400 training pairs in 20 batches of 20 (with unequal target token counts); the per-epoch
    validation BLEU (every rank decodes) and the test BLEU agree too."""
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    pairs = ",".join(str(DATA / f"pairs{i}.{lang}") for i in range(3) for lang in ("de", "en"))
    task = ["train", "translate", "--data", pairs, "--model", "transformer", "--embed", "16",
            "--hidden", "16", "--layers", "1", "--heads", "2", "--dropout", "0",
            "--min-freq", "1", "--lr", "0.003", "--valid-bleu"]  # fmt: skip
    two, one = two_vs_one(tmp_path, task, ["--batch-size", "20"], ["--batch-size", "20",
                          "--accumulate", "2"])  # fmt: skip
    assert_same_losses(two, one, ("valid_perplexity", "valid_bleu"), rel=1e-12)
    assert two["test"]["bleu"] == pytest.approx(one["test"]["bleu"], rel=1e-12)


def test_finetune_under_torchrun_matches_one_process_accumulating_two_batches(
    tmp_path, monkeypatch
):
    """A tiny BERT with its own dropout off; the linear warm-up/decay schedule counts the same
    7 optimizer steps per epoch either way."""
    pytest.importorskip("transformers")
    sys.path.insert(0, str(Path(__file__).parent))
    from helpers import write_tiny_bert

    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    bert = write_tiny_bert(tmp_path / "bert", layers=1)
    config = json.loads((bert / "config.json").read_text())
    config |= {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    (bert / "config.json").write_text(json.dumps(config))
    task = ["finetune", *QUESTIONS, "--model", str(bert), "--strategy", "full",
            "--max-length", "16", "--dropout", "0", "--lr", "0.003"]  # fmt: skip
    two, one = two_vs_one(tmp_path, task, ["--batch-size", "12"], ["--batch-size", "12",
                          "--accumulate", "2"])  # fmt: skip
    assert_same_losses(two, one, ("train_accuracy", "valid_accuracy", "lr"), rel=1e-12)
