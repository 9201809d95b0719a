"""No metric over nothing, bounded work (issue 20, deliverables 4 and 5): empty files and splits,
rows with extra fields, undecodable standard input and unavailable devices are one-line errors
(exit 2, no traceback, nothing written); a runaway sentence pair is cut with a note; sampling
never draws `<pad>` or `<sos>`."""

from __future__ import annotations

import io
import random
import resource
import shutil
import sys
from pathlib import Path

import pytest
import torch
from helpers import write_corpus, write_pairs, write_reviews

from seqlab.cli import main
from seqlab.data.translation import MAX_PAIR_TOKENS, load_parallel
from seqlab.decoding import generate

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
PAIRS = ",".join(f"tests/fixtures/checkpoints/data/pairs0.{lang}" for lang in ("de", "en"))
TINY = ["--embed", "8", "--hidden", "8", "--epochs", "1", "--threads", "1"]


@pytest.fixture(autouse=True)
def in_repository(tmp_path, monkeypatch):
    """The fixture checkpoints name their data relative to the repository root; a fresh cache."""
    monkeypatch.chdir(FIXTURES.parent.parent.parent)
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def files(tmp_path) -> Path:
    """Small, empty and broken inputs in one folder."""
    write_reviews(tmp_path / "reviews.csv", 40)
    write_corpus(tmp_path / "corpus.txt", 60)
    write_pairs(tmp_path, 40, 0)  # 0.de, 0.en
    for name in ("empty.csv", "empty.txt", "empty.de", "empty.en"):
        (tmp_path / name).write_text("")
    (tmp_path / "header.csv").write_text("text,label\n")
    (tmp_path / "blank.txt").write_text("\n\n\n")
    lines = (tmp_path / "reviews.csv").read_text().splitlines()
    lines[6] = "a good movie, really,pos"  # line 7: an unquoted comma, 3 fields
    (tmp_path / "extra.csv").write_text("\n".join(lines) + "\n")
    lines[6] = "a good movie"  # line 7: 1 field
    (tmp_path / "short.csv").write_text("\n".join(lines) + "\n")
    tsv = [line.replace(",", "\t") for line in (tmp_path / "reviews.csv").read_text().splitlines()]
    tsv[3] += "\tneg"
    (tmp_path / "extra.tsv").write_text("\n".join(tsv) + "\n")
    # The classifier fixture's labels, 3 per class: 7:1:2 leaves valid empty, test not.
    questions = ["where is it ?,LOC", "who is it ?,HUM", "how many ?,NUM"] * 3
    (tmp_path / "few.csv").write_text("question,type\n" + "\n".join(questions) + "\n")
    questions[1] = "who is, it ?,HUM"  # line 3
    (tmp_path / "few-extra.csv").write_text("question,type\n" + "\n".join(questions) + "\n")
    return tmp_path


def fixture_checkpoint(task: str, tmp_path: Path) -> str:
    """A copy of the fixture checkpoint (evaluation writes files beside a checkpoint)."""
    dest = tmp_path / "ckpt" / task / "best.pt"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / task / "best.pt", dest)
    return str(dest)


def refused(capsys, args: list[str], expected: str) -> str:
    """`seqlab ARGS` exits 2 with one line, `seqlab: error: ...` holding `expected`."""
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqlab: error:"), err
    assert "Traceback" not in err and expected in lines[0], err
    return lines[0]


def written(folder: Path) -> list[str]:
    """What a run left in `folder` (a run's lock file aside)."""
    return sorted(p.name for p in folder.glob("*") if not p.name.startswith("."))


TRAIN_REFUSED = [  # (command and data, with {d} the files folder; what the error says)
    (["translate", "--data", "{d}/empty.de,{d}/empty.en"], "empty.de: no sentences (the train"),
    (["translate", "--data", "{d}/0.de,{d}/0.en,{d}/0.de,{d}/0.en,{d}/empty.de,{d}/empty.en"],
     "empty.de: no sentences (the test file is empty)"),
    (["lm", "--data", "{d}/empty.txt"], "empty.txt: no text"),
    (["lm", "--data", "{d}/blank.txt"], "blank.txt: no text"),
    (["lm", "--data", "{d}/corpus.txt,{d}/corpus.txt,{d}/empty.txt"],
     "empty.txt: no text (the test file is empty)"),
    (["classify", "--data", "{d}/empty.csv"], "empty.csv: the file is empty"),
    (["classify", "--data", "{d}/header.csv"], "header.csv: the train file has no records"),
    (["classify", "--data", "{d}/extra.csv"], "extra.csv, line 7: too many fields: 3, the header"),
    (["classify", "--data", "{d}/short.csv"], "short.csv, line 7: too few fields: 1, the header"),
    (["classify", "--data", "{d}/extra.tsv"], "extra.tsv, line 4: too many fields: 3"),
]  # fmt: skip


@pytest.mark.parametrize("args, expected", TRAIN_REFUSED, ids=lambda x: str(x)[:40])
def test_training_on_nothing_is_refused(files, capsys, args, expected):
    out = files / "run"
    cmd = ["train", *[a.format(d=files) for a in args], *TINY, "--out", str(out)]
    refused(capsys, cmd, expected)
    assert not out.exists() or written(out) == []


EVALUATE_REFUSED = [  # (task, options, what the error says)
    ("translate", ["--data", PAIRS], "has no test split; give --data with six files"),
    ("classify", ["--data", "{d}/empty.csv"], "empty.csv: the file is empty"),
    ("classify", ["--data", "{d}/few-extra.csv"], "few-extra.csv, line 3: too many fields"),
    ("classify", ["--data", "{d}/few.csv", "--split", "valid"], "the valid split of"),
    ("lm", ["--data", "{d}/empty.txt"], "empty.txt: 0 tokens are too few to evaluate"),
]


@pytest.mark.parametrize("task, options, expected", EVALUATE_REFUSED, ids=lambda x: str(x)[:30])
def test_evaluating_nothing_is_refused(files, tmp_path, capsys, task, options, expected):
    path = fixture_checkpoint(task, tmp_path)
    args = ["evaluate", path, "--device", "cpu", *[o.format(d=files) for o in options]]
    refused(capsys, args, expected)
    assert written(Path(path).parent) == ["best.pt"]


DEVICE_COMMANDS = [  # every command that reads a checkpoint, and a training command
    ["generate", "{lm}"],
    ["translate", "{translate}", "ein mann ."],
    ["evaluate", "{classify}"],
    ["predict", "{classify}", "where is it ?"],
    ["train", "classify", "--data", "{d}/reviews.csv", *TINY, "--out", "{d}/run"],
]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("command", DEVICE_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    "device, expected",
    [("cuda", "--device cuda asked for, but no CUDA GPU"), ("tpu", "unknown device 'tpu'")],
)
def test_device_is_checked_the_same_in_every_command(files, tmp_path, capsys, command, device,
                                                     expected):  # fmt: skip
    paths = {t: fixture_checkpoint(t, tmp_path) for t in ("lm", "translate", "classify")}
    args = [a.format(d=files, **paths) for a in command]
    refused(capsys, [*args, "--device", device], expected)


def stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


STDIN_CASES = [  # (command, bytes on stdin, extra options, what the error says)
    ("predict", b"where is it ?\nwho \xff is\n", [], "standard input, byte 18: b'\\xff' is not"),
    ("predict", b"", [], "nothing to classify: standard input holds no text"),
    ("predict", b"\n \n", [], "nothing to classify"),
    ("predict", b"where\n", ["--encoding", "klingon"], "--encoding 'klingon': no such"),
    ("translate", b"ein \xc3 mann\n", [], "standard input, byte 4"),
]


@pytest.mark.parametrize("command, data, options, expected", STDIN_CASES)
def test_stdin_that_is_not_text_is_refused(tmp_path, capsys, monkeypatch, command, data,
                                           options, expected):  # fmt: skip
    task = "classify" if command == "predict" else "translate"
    stdin(monkeypatch, data)
    refused(capsys, [command, fixture_checkpoint(task, tmp_path), "-", *options], expected)


def test_stdin_in_another_encoding_is_read_with_encoding(tmp_path, capsys, monkeypatch):
    stdin(monkeypatch, "where is the lake ?\n\nwho wrote \xe9 ?\n".encode("latin-1"))
    path = fixture_checkpoint("classify", tmp_path)
    assert main(["predict", path, "-", "--encoding", "latin-1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == ["LOC", "HUM"]
    assert out[1].endswith("who wrote \xe9 ?")


def test_a_runaway_sentence_pair_is_cut_with_a_note(files, capsys):
    """A ~1 MB pair among 40 short ones: trained in bounded memory, each side cut to 256."""
    rng = random.Random(0)
    n = 100_000  # words a side, ~0.5 MB each
    for lang in ("de", "en"):
        words = (files / f"0.{lang}").read_text().split()
        long = " ".join(rng.choice(words) for _ in range(n))
        (files / f"huge.{lang}").write_text((files / f"0.{lang}").read_text() + long + "\n")
    out = files / "run"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    args = ["train", "translate", "--data", f"{files}/huge.de,{files}/huge.en", *TINY,
            "--batch-size", "64", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    err = capsys.readouterr().err
    assert "seqlab: note: train: 1 of 41 pairs have a side longer than 256 tokens" in err
    assert grown < 1_500_000, f"peak memory grew by {grown / 1e6:.1f} GB"
    assert "best.pt" in written(out)
    data = load_parallel({"train": (files / "huge.de", files / "huge.en")}, cache=False)
    longest = max(data.train[i]["src"].size for i in range(len(data.train)))
    assert longest == MAX_PAIR_TOKENS == data.train.lengths.max()
    item = data.train[len(data.train) - 1]
    eos = data.src_vocab.eos_id
    assert item["src"][-1] == eos and item["tgt"][-1] == data.tgt_vocab.eos_id


class Favours(torch.nn.Module):
    """A language model whose next-token logits favour tokens 0 and 2 (<pad>, <sos>)."""

    def __init__(self, vocab: int = 6) -> None:
        super().__init__()
        self.logits = torch.tensor([4.0, 0.0, 4.0, 0.5, 0.2, 0.1])[:vocab]

    def decode(self, tokens, state=None):
        B, T = tokens.shape
        return self.logits.expand(B, T, -1), state  # (B, T, V)


@pytest.mark.parametrize("options", [{}, {"temperature": 0.0}, {"top_k": 2}, {"top_p": 0.9}])
def test_sampling_never_draws_banned_tokens(options):
    prompt = torch.full((8, 1), 3, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    out = generate(Favours(), prompt, 50, generator=g, banned=[0, 2], **options)
    assert not torch.isin(out, torch.tensor([0, 2])).any()
    assert generate(Favours(), prompt, 50, generator=g, **options).eq(0).any()  # would, unbanned


def test_banning_a_token_never_drawn_changes_nothing():
    prompt = torch.full((4, 1), 3, dtype=torch.long)
    model = Favours()
    model.logits = torch.tensor([-1e9, 0.0, -1e9, 0.5, 0.2, 0.1])
    draws = [
        generate(model, prompt, 30, generator=torch.Generator().manual_seed(1), banned=banned)
        for banned in ((), (0, 2))
    ]
    assert torch.equal(*draws)


def test_generate_cli_never_prints_pad_or_sos(tmp_path, capsys):
    path = fixture_checkpoint("lm", tmp_path)
    assert main(["generate", path, "--words", "30", "--num", "5", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "<pad>" not in out and "<sos>" not in out and len(out.splitlines()) == 5


def test_a_runaway_text_is_cut_even_with_max_length_none(tmp_path, capsys, monkeypatch):
    """`--max-length none` reads whole texts, up to MAX_TEXT_TOKENS: a longer one is cut to
    it (with a note), so one runaway line cannot fill memory."""
    from seqlab.data.classification import MAX_TEXT_TOKENS
    from seqlab.tasks.classify import TASK

    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    rows = ["text,label"] + [f"{'good' if i % 2 else 'bad'} film {i},{i % 2}" for i in range(40)]
    rows.append(" ".join(["word"] * (MAX_TEXT_TOKENS + 500)) + ",1")
    (tmp_path / "long.csv").write_text("\n".join(rows) + "\n")
    from seqlab.config import run_from_options
    from seqlab.tasks.configs import ClassifyRun

    run = run_from_options(
        ClassifyRun, {"data": str(tmp_path / "long.csv"), "max_length": None}, "t"
    )
    data = TASK.load_data(run)
    lengths = [int(x) for s in (data.train, data.valid, data.test) for x in s.lengths]
    assert max(lengths) == MAX_TEXT_TOKENS and sorted(lengths)[-2] < 10
    assert f"cut to {MAX_TEXT_TOKENS:,}" in capsys.readouterr().err
