"""One validation layer: every option is checked when its run config is built (type, finiteness,
range), and what depends on the data or the model before training starts. Each bad value is
exit code 2, one line naming the option, the value and what is allowed, and nothing in --out."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.cli import build_parser, main
from seqlab.commands.options import run_config
from seqlab.config import config_from_dict
from seqlab.errors import SeqlabError
from seqlab.tasks.configs import ClassifyRun, FinetuneRun, LMRun, TranslateRun

DATA = Path(__file__).parent / "fixtures" / "checkpoints" / "data"
CKPT = Path(__file__).parent / "fixtures" / "checkpoints"
RUNS = (ClassifyRun, LMRun, TranslateRun, FinetuneRun)
QUESTIONS = ["--data", str(DATA / "questions.csv"), "--text-column", "question"]
QUESTIONS += ["--label-column", "type", "--model", "gru", "--embed", "8", "--hidden", "8"]
CLASSIFY = ["train", "classify", *QUESTIONS, "--quiet"]
LM = ["train", "lm", "--data", str(DATA / "text.txt"), "--quiet"]
PAIRS = ",".join(str(DATA / f"pairs0.{lang}") for lang in ("de", "en"))
TRANSLATE = ["train", "translate", "--data", PAIRS, "--quiet"]
CLASSIFY_CKPT, LM_CKPT = str(CKPT / "classify" / "best.pt"), str(CKPT / "lm" / "best.pt")
TRANSLATE_CKPT = str(CKPT / "translate" / "best.pt")

# (argv, what the one error line says); training commands get --out, none of them trains.
CASES = [
    (["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    (["--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
    (["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
    (["--momentum", "-1"], "--momentum must be a finite number >= 0"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number >= 0"),
    (["--clip", "0"], "--clip must be a finite number > 0, got 0.0"),
    (["--warmup", "nan"], "--warmup must be a finite number >= 0, got nan"),
    (["--gamma", "0"], "--gamma must be a finite number > 0"),
    (["--layer-decay", "0"], "--layer-decay must be a number in (0, 1]"),
    (["--dropout", "2"], "--dropout must be a number in [0, 1), got 2.0"),
    (["--layer-dropout", "1"], "--layer-dropout must be a number in [0, 1)"),
    (["--recurrent-dropout", "-0.1"], "--recurrent-dropout must be a number in [0, 1)"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
    (["--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--accumulate", "0"], "--accumulate must be at least 1"),
    (["--step-size", "0"], "--step-size must be at least 1"),
    (["--log-every", "0"], "--log-every must be at least 1"),
    (["--patience", "0"], "--patience must be at least 1"),
    (["--seed", "-1"], "--seed must be at least 0"),
    (["--min-freq", "0"], "--min-freq must be at least 1, got 0"),
    (["--max-vocab", "0"], "--max-vocab must be at least 3"),
    (["--max-length", "0"], "--max-length must be at least 1"),
    (["--embed", "0"], "--embed must be at least 1"),
    (["--hidden", "0"], "--hidden must be at least 1"),
    (["--layers", "0"], "--layers must be at least 1"),
    (["--model", "transformer", "--heads", "0"], "--heads must be at least 1"),
    (["--model", "ngram", "--ngram", "0"], "--ngram must be at least 1"),
    (["--model", "ngram", "--buckets", "0"], "--buckets must be at least 1"),
    (["--valid-fraction", "1"], "--valid-fraction must be a number in [0, 1)"),
    (["--limit", "0"], "--limit must be a count or a fraction in (0, 1], got 0"),
    (["--limit", "1.5"], "--limit must be a count or a fraction in (0, 1], got 1.5"),
    (["--limit", "nan"], "--limit must be a count or a fraction in (0, 1], got nan"),
    (["--split", "1:0:0"], "--split must be 'official' or train:valid:test shares"),
    (["--split", "7:1"], "--split must be 'official' or train:valid:test shares"),
    (["--split", "a:b:c"], "--split must be 'official' or train:valid:test shares"),
    (["--model", "transformer", "--heads", "3"], "embed_dim=8 must be divisible by num_heads=3"),
]
CASES = [([*CLASSIFY, *argv], expected) for argv, expected in CASES]
CASES += [
    ([*LM, "--bptt", "0"], "--bptt must be at least 1"),
    ([*LM, "--eval-batch-size", "0"], "--eval-batch-size must be at least 1"),
    ([*LM, "--max-vocab", "3"], "--max-vocab must be at least 4"),
    ([*LM, "--lr", "nan"], "--lr must be a finite number > 0"),
    ([*LM, "--embed", "10", "--heads", "3"], "embed_dim=10 must be divisible by num_heads=3"),
    ([*TRANSLATE, "--teacher-forcing", "1.5"], "--teacher-forcing must be a number in [0, 1]"),
    ([*TRANSLATE, "--label-smoothing", "1"], "--label-smoothing must be a number in [0, 1)"),
    ([*TRANSLATE, "--beam", "0"], "--beam must be at least 1"),
    ([*TRANSLATE, "--max-decode", "0"], "--max-decode must be at least 1"),
    ([*TRANSLATE, "--length-penalty", "nan"], "--length-penalty must be a finite number"),
    ([*TRANSLATE, "--max-vocab", "4"], "--max-vocab must be at least 5"),
    ([*TRANSLATE, "--limit", "0"], "--limit must be at least 1"),
    ([*TRANSLATE, "--lr", "nan"], "--lr must be a finite number > 0"),
    (["generate", LM_CKPT, "--temperature", "nan"], "--temperature must be a finite number >= 0"),
    (["generate", LM_CKPT, "--temperature", "-1"], "--temperature must be a finite number >= 0"),
    (["generate", LM_CKPT, "--top-k", "0"], "--top-k must be at least 1"),
    (["generate", LM_CKPT, "--top-p", "1.5"], "top_p must be in (0, 1]"),
    (["generate", LM_CKPT, "--top-p", "0"], "top_p must be in (0, 1]"),
    (["generate", LM_CKPT, "--words", "0"], "--words must be at least 1"),
    (["generate", LM_CKPT, "--num", "0"], "--num must be at least 1"),
    (["evaluate", LM_CKPT, "--cache", "--cache-lambda", "5", "--cache-theta", "1"],
     "--cache-lambda must be a number in [0, 1], got 5.0"),
    (["evaluate", LM_CKPT, "--cache", "--cache-theta", "nan", "--cache-lambda", "0.1"],
     "--cache-theta must be a finite number > 0"),
    (["evaluate", LM_CKPT, "--cache", "--cache-theta", "0", "--cache-lambda", "0.1"],
     "--cache-theta must be a finite number > 0"),
    (["evaluate", LM_CKPT, "--cache", "--cache-window", "0"], "--cache-window must be at least 1"),
    (["evaluate", CLASSIFY_CKPT, "--batch-size", "0"], "--batch-size must be at least 1"),
    (["evaluate", CLASSIFY_CKPT, "--limit", "-1"], "--limit must be a count or a fraction"),
    (["evaluate", TRANSLATE_CKPT, "--beam", "0"], "beam width and maximum length must be >= 1"),
    (["evaluate", TRANSLATE_CKPT, "--length-penalty", "nan"], "--length-penalty must be a finite"),
    (["translate", TRANSLATE_CKPT, "--beam", "0", "x"], "beam width and maximum length must be"),
    (["translate", TRANSLATE_CKPT, "--max-length", "0", "x"], "beam width and maximum length"),
    (["translate", TRANSLATE_CKPT, "--length-penalty", "inf", "x"], "--length-penalty must be"),
    *[(["summary", f"--{o}", "0"], f"--{o} must be at least 1, got 0") for o in (
        "vocab-size", "tgt-vocab-size", "embed", "hidden", "layers", "heads", "max-length",
        "num-classes", "buckets", "ngram")],
]  # fmt: skip


def one_error_line(capsys) -> str:
    """The single line the CLI printed on stderr (no traceback, nothing on stdout)."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqlab: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(a[-4:]) for a, _ in CASES])
def test_bad_options_are_one_line_errors_and_write_nothing(argv, expected, tmp_path, capsys):
    out = tmp_path / "out"
    if argv[0] == "train":
        argv = [*argv, "--out", str(out)]
    assert main(argv) == 2
    assert expected in one_error_line(capsys)
    assert not out.exists()


def test_toml_values_are_checked_like_flags(tmp_path, capsys):
    for text, expected in [
        ("[train]\nlr = nan\n", "train.lr must be a finite number > 0, got nan"),
        ("epochs = true\n", "train.epochs must be int, got True"),
        ("[train]\nbatch_size = 1.5\n", "train.batch_size must be int, got 1.5"),
        ('[model]\nbidirectional = "no"\n', "model.bidirectional must be bool, got 'no'"),
        ("clip = 0\n", "train.clip must be a finite number > 0, got 0.0"),
        ('[model]\nencoder = "capsule"\n', "model.encoder must be one of dense, rnn, lstm"),
    ]:
        config = tmp_path / "run.toml"
        config.write_text(text)
        assert main([*CLASSIFY, "--config", str(config), "--out", str(tmp_path / "o")]) == 2
        assert f"seqlab: error: {config}: {expected}" in one_error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_every_source_is_checked_and_named():
    with pytest.raises(SeqlabError, match=r"^ckpt: model\.dropout must be a number in \[0, 1\)"):
        config_from_dict(LMRun, {"model": {"dropout": 1.0}}, "ckpt")
    with pytest.raises(SeqlabError, match=r"^study run a: train\.lr must be a finite number"):
        config_from_dict(ClassifyRun, {"train": {"lr": -1}}, "study run a")
    with pytest.raises(SeqlabError, match=r"^x: train\.lr must be a finite number > 0, got inf$"):
        config_from_dict(ClassifyRun, {"train": {"lr": 10**400}}, "x")  # no OverflowError
    with pytest.raises(SeqlabError, match=r"^layer_decay must be a number in \(0, 1\]"):
        type(ClassifyRun().train)(layer_decay=0.0)  # built directly: the field's name


@pytest.mark.parametrize("run_class", RUNS)
def test_the_defaults_pass_their_own_rules(run_class):
    run = run_class()
    assert config_from_dict(run_class, dataclasses.asdict(run), "defaults") == run


def test_data_dependent_settings_are_checked_before_training(tmp_path, capsys):
    one_class = tmp_path / "one.csv"
    one_class.write_text("question,type\n" + "where is the river ?,LOC\n" * 30)
    out = tmp_path / "out"
    argv = ["train", "classify", "--data", str(one_class), "--text-column", "question"]
    assert main([*argv, "--label-column", "type", "--quiet", "--out", str(out)]) == 2
    assert "label column 'type' has only one class (LOC)" in one_error_line(capsys)
    # A split that leaves test empty (shares this small round down to nothing).
    few = tmp_path / "few.csv"
    few.write_text("question,type\n" + "a b ?,LOC\nc d ?,HUM\n" * 3)
    argv = ["train", "classify", "--data", str(few), "--text-column", "question"]
    assert main([*argv, "--label-column", "type", "--split", "98:1:1", "--out", str(out)]) == 2
    assert "the test split of" in one_error_line(capsys)
    assert not out.exists()


def test_finetune_max_length_beyond_the_position_table_is_refused_before_any_data(tmp_path, capsys):
    model = tmp_path / "bert"
    model.mkdir()
    (model / "config.json").write_text(
        json.dumps({"model_type": "bert", "max_position_embeddings": 64})
    )
    out = tmp_path / "out"
    argv = ["finetune", *QUESTIONS[:6], "--model", str(model), "--out", str(out)]
    assert main([*argv, "--max-length", "1000"]) == 2
    assert "--max-length must be at most 64" in one_error_line(capsys)
    assert not out.exists()


def test_finetune_with_one_class_is_refused_before_training(tmp_path, capsys):
    pytest.importorskip("transformers")
    from helpers import write_tiny_bert

    model = write_tiny_bert(tmp_path / "bert", layers=1)
    one_class = tmp_path / "one.csv"
    one_class.write_text("question,type\n" + "where is the river ?,LOC\n" * 30)
    out = tmp_path / "out"
    argv = ["finetune", "--data", str(one_class), "--text-column", "question"]
    argv += ["--label-column", "type", "--model", str(model), "--max-length", "16"]
    capsys.readouterr()  # the tiny model's progress bar
    assert main([*argv, "--out", str(out)]) == 2
    assert "has only one class (LOC)" in one_error_line(capsys)
    assert not out.exists()


# -- property: edge values never escape as another exception -------------------------------

EDGES = st.sampled_from(
    [0, -1, 1, 2, 0.0, 0.5, 1.0, -0.5, math.nan, math.inf, -math.inf, 1e308, 10**30, True,
     False, "no", "1", None, [1], {}]
)  # fmt: skip


def numeric_fields(run_class: type) -> list[tuple[str, str]]:
    """(section, field) of every int or float field of a run config."""
    hints = typing.get_type_hints(run_class)
    out = []
    for sec, cls in hints.items():
        for name, hint in typing.get_type_hints(cls).items():
            args = set(typing.get_args(hint)) | {hint}
            if args & {int, float} and bool not in args:
                out.append((sec, name))
    return out


FIELDS = st.sampled_from([(c, *f) for c in RUNS for f in numeric_fields(c)])


@settings(max_examples=300, deadline=None)
@given(place=FIELDS, value=EDGES)
def test_config_from_dict_gives_a_config_or_a_seqlab_error(place, value):
    run_class, sec, name = place
    try:
        run = config_from_dict(run_class, {sec: {name: value}}, "f.toml")
    except SeqlabError as e:
        assert str(e).startswith("f.toml: ") and "\n" not in str(e)
    else:
        stored = getattr(getattr(run, sec), name)  # ints widen to float
        assert stored == value or stored == float(value)


FLAGS = "--lr --clip --warmup --dropout --epochs --threads --limit --split --max-vocab --min-freq"
FLAGS = [*FLAGS.split(), "--valid-fraction", "--gamma", "--seed", "--batch-size", "--patience"]
TEXTS = st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e308", "1e-320", "0.5", "1", "none"])


PARSER = build_parser()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag=st.sampled_from(FLAGS), text=TEXTS)
def test_cli_edge_values_parse_to_a_run_or_a_clean_error(flag, text):
    try:
        args = PARSER.parse_args(["train", "classify", flag, text])
    except SystemExit as e:  # argparse: not a number of the option's type
        assert e.code == 2
        return
    try:
        run, _ = run_config(args)
    except SeqlabError as e:
        assert str(e).startswith(flag + " must be ") and "\n" not in str(e)
    else:
        assert isinstance(run, ClassifyRun)


def test_a_monitor_the_task_does_not_record_is_refused_from_any_source(tmp_path, capsys):
    """A TOML `monitor` is checked as the flag's choices are: classify records no BLEU."""
    toml = tmp_path / "run.toml"
    toml.write_text('monitor = "valid_bleu"\n')
    assert main(["train", "classify", "--config", str(toml), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--monitor must be one of valid_loss, valid_accuracy, valid_micro_f1" in err
    assert not (tmp_path / "r").exists()


def test_keeping_the_case_with_a_lower_casing_tokenizer_is_refused(tmp_path, capsys):
    """basic_english lower-cases every text: --no-lower with it would train lower-cased all
    the same (and a "cased" translator would be scored case-sensitively on lower-cased output)."""
    out = str(tmp_path / "t")
    assert main([*TRANSLATE, "--no-lower", "--out", out]) == 2
    assert "--tokenizer basic_english lower-cases every text" in capsys.readouterr().err
    assert main([*LM, "--tokenizer", "basic_english", "--out", str(tmp_path / "l")]) == 2
    assert main([*LM, "--tokenizer", "basic_english", "--lower", "--dry-run",
                 "--out", str(tmp_path / "l2")]) == 0  # fmt: skip
