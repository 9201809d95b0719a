"""`seqlab train lm`, `evaluate` and `generate` on small generated text; WikiText-2 counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_corpus

from seqlab.cli import main
from seqlab.config import run_from_options
from seqlab.tasks.configs import LM_ARCHS, LMRun
from seqlab.tasks.lm import TASK
from seqlab.tasks.presets import LM_PRESETS


@pytest.fixture
def corpus(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    return write_corpus(tmp_path / "corpus.txt", 1200)


TINY = ["--embed", "16", "--hidden", "32", "--layers", "1", "--dropout", "0", "--quiet"]


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_tiny_model_learns_the_grammar(corpus, tmp_path, arch):
    options = {"data": str(corpus), "model": arch, "embed": 32, "hidden": 64, "layers": 1}
    options |= {"dropout": 0.0, "epochs": 3, "batch_size": 16, "lr": 1e-2, "quiet": True, "seed": 0}
    result = TASK.train(run_from_options(LMRun, options, "the test"), tmp_path / arch)
    vocab = len(result.data.vocab)
    # A sentence (about 7.4 tokens with "." and <eos>) is one of 5 x 4 x 5 = 100 choices, so a
    # model that learned the grammar sits near 100^(1/7.4) ~ 1.9 per token, far below the 25
    # entries of the vocabulary (22 words, <pad>, <unk>, <eos>).
    assert vocab == 25
    assert result.test["perplexity"] < 3.5, result.test
    assert result.history[-1]["valid_perplexity"] < result.history[0]["train_perplexity"]
    assert (tmp_path / arch / "curves.png").stat().st_size > 1000


@pytest.mark.parametrize("resume", [False, True])
def test_factored_softmax_lm_trains_with_frequency_classes_and_reloads(
    corpus, tmp_path, capsys, resume
):
    """--factored K: the frequency classes come from the training stream (`prepare`; also
    under --resume into a folder with no checkpoint yet), the checkpoint brings them back, and
    its test perplexity is the one recorded after training."""
    import torch

    from seqlab.nn import frequency_classes
    from seqlab.tasks import load

    out = tmp_path / "factored"
    options = {"data": str(corpus), "model": "lstm", "embed": 32, "hidden": 64, "layers": 1}
    options |= {"dropout": 0.0, "epochs": 3, "batch_size": 16, "lr": 1e-2, "quiet": True}
    options |= {"seed": 0, "factored_classes": 4}
    result = TASK.train(run_from_options(LMRun, options, "the test"), out, resume=resume)
    assert result.test["perplexity"] < 3.5, result.test  # learns the grammar as the full softmax
    counts = torch.bincount(result.data.train, minlength=len(result.data.vocab))
    want = frequency_classes(counts, 4)
    loaded = load(out / "best.pt")
    assert torch.equal(loaded.model.factored.class_of, want)
    assert loaded.model.factored.sizes == torch.bincount(want, minlength=4).tolist()
    log_probs, _ = loaded.model.eval().decode(torch.tensor([[3, 4, 5]]))
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(1, 3))
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.pt"), "--split", "test"]) == 0
    ppl = float(capsys.readouterr().out.split("perplexity ")[1].split()[0])
    assert ppl == pytest.approx(result.test["perplexity"], abs=1e-4)


def test_cli_train_evaluate_generate(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "lm", "--data", str(corpus), "--model", "gru", *TINY,
                 "--epochs", "2", "--batch-size", "8", "--bptt", "12", "--lr", "1e-2",
                 "--out", str(out)]) == 0  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["model"]["arch"] == "gru" and len(results["history"]) == 2
    assert {"best.pt", "last.pt", "log.jsonl", "curves.png"} <= {p.name for p in out.iterdir()}
    capsys.readouterr()

    assert main(["evaluate", str(out / "best.pt"), "--split", "test"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("test: loss ") and "perplexity" in line and "tokens)" in line
    # evaluating the checkpoint reproduces the test perplexity recorded after training
    # (best.pt is the last epoch here: the loss still falls)
    ppl = float(line.split("perplexity ")[1].split()[0])
    assert ppl == pytest.approx(results["test"]["perplexity"], abs=1e-4)  # printed to 4 places

    # a new text file is evaluated with the checkpoint's vocabulary
    other = write_corpus(tmp_path / "other.txt", 50, seed=3)
    assert main(["evaluate", str(out / "best.pt"), "--data", str(other)]) == 0
    assert "perplexity" in capsys.readouterr().out

    ckpt = str(out / "best.pt")
    # the continuous cache: tuned on valid, then test; lambda 0 reproduces the plain perplexity
    assert main(["evaluate", ckpt, "--cache", "--cache-window", "50"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("tuned on valid: theta") and "test: perplexity" in text
    cache = json.loads((out / "test-cache.json").read_text())
    assert cache["perplexity"] == pytest.approx(results["test"]["perplexity"], rel=1e-6)
    assert main(["evaluate", ckpt, "--cache", "--cache-theta", "0.3"]) == 2
    assert "both --cache-theta and --cache-lambda" in capsys.readouterr().err

    assert main(["generate", ckpt, "--seed", "1", "--words", "7", "--num", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(len(t.split()) == 7 for t in lines)
    assert not any(t.split()[0].startswith("<") for t in lines)  # no special as first word

    # same seed: same text; the course's uncached decoding gives the same words
    assert main(["generate", ckpt, "--seed", "1", "--words", "7", "--num", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    assert main(["generate", ckpt, "--seed", "1", "--words", "7", "--num", "2", "--no-cached"]) == 0
    assert capsys.readouterr().out.splitlines() == lines

    assert main(["generate", ckpt, "--prompt", "the cat", "--words", "3", "--top-k", "2"]) == 0
    texts = capsys.readouterr().out.splitlines()
    assert len(texts) == 3 and all(t.startswith("the cat ") and len(t.split()) == 5 for t in texts)

    assert main(["generate", ckpt, "--prompt", "the zebra", "--words", "2", "--num", "1"]) == 0
    captured = capsys.readouterr()
    assert "not in the vocabulary, read as <unk>: zebra" in captured.err
    assert captured.out.startswith("the <unk> ")

    assert main(["generate", ckpt, "--prompt", "   ", "--words", "4", "--num", "1"]) == 0
    assert len(capsys.readouterr().out.split()) == 4  # an empty prompt: a random first word

    assert main(["generate", ckpt, "--words", "0"]) == 2
    assert "--words must be at least 1" in capsys.readouterr().err
    assert main(["generate", ckpt, "--top-p", "1.5", "--seed", "0"]) == 2
    assert "top_p must be in (0, 1]" in capsys.readouterr().err
    assert main(["predict", ckpt, "some text"]) == 2
    assert "seqlab generate" in capsys.readouterr().err


def test_resume_continues_exactly(corpus, tmp_path):
    common = ["train", "lm", "--data", str(corpus), "--model", "lstm", *TINY, "--batch-size", "8",
              "--bptt", "10", "--lr", "5e-3"]  # fmt: skip
    assert main([*common, "--epochs", "2", "--out", str(tmp_path / "straight")]) == 0
    assert main([*common, "--epochs", "1", "--out", str(tmp_path / "split")]) == 0
    assert main([*common, "--epochs", "2", "--out", str(tmp_path / "split"), "--resume"]) == 0
    a = json.loads((tmp_path / "straight" / "results.json").read_text())
    b = json.loads((tmp_path / "split" / "results.json").read_text())
    for key in ("train_loss", "valid_loss"):
        assert [r[key] for r in a["history"]] == [r[key] for r in b["history"]]
    assert a["test"] == b["test"]


def test_bad_data_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "lm", "--data", str(tmp_path / "missing.txt"), "--dry-run"]) == 2
    assert "no such file" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("a b\n", encoding="utf-8")
    assert main(["train", "lm", "--data", str(short), "--dry-run", "--out", str(tmp_path)]) == 2
    assert "too few" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "lm", "--adaptive", "x,y"])
    # Refused before any data is read (the data here does not exist).
    missing = ["--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "f")]
    assert main(["train", "lm", *missing, "--preset", "cpu-lstm", "--factored", "8"]) == 2
    assert "add --adaptive none" in capsys.readouterr().err


def test_presets_and_archs():
    course = LM_PRESETS["course"]
    # the assignment: batch 20, bptt 35, SGD, StepLR(1.0, gamma=0.95), clipping at 0.5
    assert (course["batch_size"], course["bptt"], course["optimizer"]) == (20, 35, "sgd")
    assert (course["schedule"], course["step_size"], course["gamma"], course["clip"]) == (
        "step", 1, 0.95, 0.5,
    )  # fmt: skip
    from seqlab.models.language_model import ARCHS

    assert LM_ARCHS == ARCHS


def test_wikitext2_course_dry_run(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "course"
    assert main(["train", "lm", "--preset", "course", "--dry-run", "--quiet",
                 "--data-dir", str(shared_data), "--out", str(out)]) == 0  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    # basic_english lower-cased: 28,782 word types + <pad>, <unk> ... as the course's field
    data = results["config"]["data"]
    assert data["tokenizer"] == "basic_english" and data["lower"]
    assert results["train_tokens"] == 2_086_708
    assert main(["generate", str(out / "last.pt"), "--words", "5", "--seed", "0"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
