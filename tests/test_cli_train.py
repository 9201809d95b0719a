"""`seqlab train classify`, `evaluate`, `predict`: dry runs, configs (flags, TOML files in
tables or flat, `config_from_dict`'s errors), bad input, resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import write_reviews

from seqlab.cli import build_parser, main
from seqlab.commands.options import run_config
from seqlab.config import config_from_dict
from seqlab.errors import SeqlabError
from seqlab.tasks.configs import ClassifyRun, LMRun, TranslateRun


@pytest.fixture
def reviews(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    return write_reviews(tmp_path / "reviews.csv", 300)


TINY = ["--model", "gru", "--embed", "8", "--hidden", "8", "--max-length", "16", "--quiet"]


def test_train_evaluate_predict_dry_run(reviews, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "classify", "--data", str(reviews), *TINY, "--dry-run", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["history"]) == 1 and results["train_config"]["limit_batches"] == 2
    assert {"best.pt", "last.pt", "log.jsonl"} <= {p.name for p in out.iterdir()}
    capsys.readouterr()

    assert main(["evaluate", str(out / "best.pt"), "--split", "valid", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("valid: loss ")
    assert main(["predict", str(out / "best.pt"), "a great film", "boring and dull"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        label, prob, _ = line.split("\t")
        assert label in ("neg", "pos") and 0.5 <= float(prob) <= 1.0


def test_trained_model_evaluates_and_predicts_from_the_checkpoint_alone(reviews, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "classify", "--data", str(reviews), *TINY, "--epochs", "6", "--lr", "0.02"]
    assert main([*args, "--batch-size", "16", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["test"]["accuracy"] >= 0.9
    capsys.readouterr()
    # evaluate re-reads the file and encodes it with the checkpoint's vocabulary: same numbers.
    assert main(["evaluate", str(out / "last.pt")]) == 0
    printed = capsys.readouterr().out
    assert f"accuracy {results['test']['accuracy']:.4f}" in printed
    assert f"loss {results['test']['loss']:.4f}" in printed
    assert "(60 examples)" in printed  # 7:1:2 of 300
    texts = ["superb lovely fun film", "awful worst plot"]
    assert main(["predict", str(out / "last.pt"), *texts]) == 0
    labels = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert labels == ["pos", "neg"]


def test_toml_config_with_flag_override(reviews, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "{reviews}"\nmodel = "rnn"\nembed = 4\nmax-length = 12\nepochs = 1\n'
    )
    out = tmp_path / "run"
    assert main(["train", "classify", "--config", str(config), "--embed", "6", "--quiet",
                 "--hidden", "5", "--out", str(out)]) == 0  # fmt: skip
    cfg = json.loads((out / "results.json").read_text())["config"]
    model, data = cfg["model"], cfg["data"]
    assert (model["encoder"], model["embed_dim"], model["hidden_size"], data["max_length"]) == (
        "rnn", 6, 5, 12,
    )  # fmt: skip
    assert set(cfg) == {"data", "model"}  # the train section is results.json's train_config


def test_unknown_toml_key_names_the_valid_ones(reviews, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("hiden = 3\n")
    assert main(["train", "classify", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: unknown option 'hiden'" in err and "batch-size" in err and "hidden " in err
    assert len(err.strip().splitlines()) == 1


def parsed_run(*argv: str):
    """The run config a training command line builds (without training)."""
    return run_config(build_parser().parse_args(list(argv)))[0]


def test_toml_tables_and_flat_option_names_give_the_same_run(tmp_path):
    """[data]/[model]/[train] tables (keys: field or option names) and flat option names at
    the top of a file build the same run, which is also what the flags build."""
    flat = tmp_path / "flat.toml"
    flat.write_text(
        'data = "x.csv"\nsplit = "8:1:1"\nmax-length = 12\nmodel = "rnn"\nembed = 4\n'
        "bidirectional = true\nepochs = 2\nlr = 0.01\nbatch_size = 8\n"
    )
    tables = tmp_path / "tables.toml"
    tables.write_text(
        '[data]\nsource = "x.csv"\nsplit = "8:1:1"\nmax_length = 12\n'
        '[model]\nencoder = "rnn"\nembed = 4\nbidirectional = true\n'
        "[train]\nepochs = 2\nlr = 0.01\nbatch-size = 8\n"
    )
    a = parsed_run("train", "classify", "--config", str(flat))
    b = parsed_run("train", "classify", "--config", str(tables))
    flags = parsed_run("train", "classify", "--data", "x.csv", "--split", "8:1:1",
                       "--max-length", "12", "--model", "rnn", "--embed", "4", "--bidirectional",
                       "--epochs", "2", "--lr", "0.01", "--batch-size", "8")  # fmt: skip
    assert a == b == flags
    assert (a.data.source, a.data.max_length, a.model.encoder, a.model.embed_dim) == (
        "x.csv", 12, "rnn", 4,
    )  # fmt: skip
    assert a.model.bidirectional and (a.train.epochs, a.train.lr) == (2, 0.01)
    assert a.train.batch_size == 8
    assert a != parsed_run("train", "classify", "--config", str(tables), "--embed", "5")


def test_toml_decode_table_of_translation(tmp_path):
    config = tmp_path / "translate.toml"
    config.write_text('[model]\narch = "transformer"\nheads = 4\n[decode]\nbeam = 3\n')
    run = parsed_run("train", "translate", "--config", str(config), "--length-penalty", "1")
    assert isinstance(run, TranslateRun)
    assert (run.model.arch, run.model.num_heads) == ("transformer", 4)
    assert (run.decode.beam, run.decode.length_penalty) == (3, 1.0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[model]\nhiden = 3\n", "unknown setting model.hiden"),
        ("[model]\nepochs = 3\n", "unknown setting model.epochs"),  # a train option
        ('[model]\nembed = "big"\n', "model.embed_dim must be int, got 'big'"),
        ("[train]\nepochs = 2.5\n", "train.epochs must be int, got 2.5"),
        ("[data]\nlower = true\n", "unknown setting data.lower"),  # an lm setting
        ("embed = true\n", "model.embed_dim must be int, got True"),
    ],
)
def test_toml_errors_name_the_file_and_the_setting(tmp_path, capsys, text, expected):
    config = tmp_path / "run.toml"
    config.write_text(text)
    assert main(["train", "classify", "--config", str(config), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"seqlab: error: {config}: {expected}" in err and len(err.strip().splitlines()) == 1


def test_config_from_dict_errors_name_the_setting_and_the_source():
    with pytest.raises(SeqlabError, match=r"^run\.toml: unknown setting model\.hiden; valid: "):
        config_from_dict(ClassifyRun, {"model": {"hiden": 3}}, "run.toml")
    with pytest.raises(SeqlabError, match=r"^run\.toml: unknown setting extra; valid: data, "):
        config_from_dict(ClassifyRun, {"extra": {}}, "run.toml")
    with pytest.raises(SeqlabError, match=r"^ckpt: model\.embed_dim must be int, got '8'$"):
        config_from_dict(ClassifyRun, {"model": {"embed_dim": "8"}}, "ckpt")
    with pytest.raises(SeqlabError, match=r"^ckpt: train\.lr must be float, got 'x'$"):
        config_from_dict(ClassifyRun, {"train": {"lr": "x"}}, "ckpt")
    with pytest.raises(SeqlabError, match=r"^src: data\.limit must be int or float or none"):
        config_from_dict(ClassifyRun, {"data": {"limit": "all"}}, "src")
    with pytest.raises(SeqlabError, match=r"^src: \[model\] must be a table of settings"):
        config_from_dict(ClassifyRun, {"model": 3}, "src")
    with pytest.raises(SeqlabError, match=r"^src: model\.bidirectional must be bool, got 1$"):
        config_from_dict(ClassifyRun, {"model": {"bidirectional": 1}}, "src")
    with pytest.raises(SeqlabError, match=r"adaptive_cutoffs must be a list of int or none"):
        config_from_dict(LMRun, {"model": {"adaptive_cutoffs": [2000, "x"]}}, "src")
    # Missing keys take their defaults; ints widen to floats.
    run = config_from_dict(ClassifyRun, {"model": {"embed_dim": 8}, "train": {"lr": 1}}, "src")
    assert run == ClassifyRun(
        model=dataclasses.replace(ClassifyRun().model, embed_dim=8),
        train=dataclasses.replace(ClassifyRun().train, lr=1.0),
    )
    assert isinstance(run.train.lr, float)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "classify", "--hiden", "3"], "--hidden"),
        (["evaluate", "x.pt", "--splitt", "test"], "--split"),
        (["predict", "x.pt", "text", "--tempreature", "2"], "--help"),
    ],
)
def test_unknown_cli_options_name_the_valid_ones(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and "valid options:" in err and expected in err


def test_bad_checkpoints_give_one_line_errors(reviews, tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "classify", "--data", str(reviews), *TINY, "--dry-run", "--out", str(out)])
    data = (out / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:1000])
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "cut.pt")]) == 2
    assert "truncated or not a checkpoint" in capsys.readouterr().err
    assert main(["predict", str(reviews), "text"]) == 2  # a CSV is not a checkpoint
    assert "not a checkpoint" in capsys.readouterr().err
    # Resuming a run with another model into the same folder is refused, naming the difference.
    other = ["--data", str(reviews), *TINY, "--embed", "12", "--dry-run", "--out", str(out)]
    assert main(["train", "classify", *other, "--resume"]) == 2
    assert "other settings (--embed (model.embed_dim))" in capsys.readouterr().err


def test_imdb_dry_run(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    argv = ["train", "classify", "--data", "imdb", "--data-dir", str(shared_data), "--quiet"]
    argv += ["--model", "lstm", "--embed", "8", "--hidden", "8", "--max-length", "32"]
    assert main([*argv, "--dry-run", "--out", str(tmp_path / "run")]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results["history"]) == 1 and results["train_config"]["limit_batches"] == 2
    # The vocabulary of the 200 training reviews a dry run keeps (embedding 8) and the LSTM(8):
    # another count means IMDB was read, subset or tokenized differently.
    assert results["params"] == 65_937


class Killed(BaseException):
    """Stands for SIGKILL: no `except Exception` in the run may catch it."""


def test_killed_after_first_epoch_then_resume_matches_uninterrupted(
    reviews, tmp_path, monkeypatch, capsys
):
    """The run dies right after writing epoch 1's last.pt (before log.jsonl and results.json);
    `--resume` continues from it to the uninterrupted run's every figure. The same with a real
    SIGKILL of a `seqlab` process: `python benchmarks/resume_after_kill.py`."""
    from seqlab.train import trainer

    loud = [a for a in TINY if a != "--quiet"]
    argv = ["train", "classify", "--data", str(reviews), *loud, "--epochs", "3"]
    argv += ["--batch-size", "8", "--dropout", "0.2", "--schedule", "cosine", "--resume"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main([*argv, "--out", str(full)]) == 0
    save = trainer.save_checkpoint

    def save_then_die(path, state):
        save(path, state)
        if path.name == "last.pt":
            raise Killed

    monkeypatch.setattr(trainer, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        main([*argv, "--out", str(cut)])
    monkeypatch.setattr(trainer, "save_checkpoint", save)
    assert (cut / "last.pt").is_file() and not (cut / "results.json").exists()
    capsys.readouterr()
    assert main([*argv, "--out", str(cut)]) == 0
    assert "resumed from" in capsys.readouterr().out

    def results(run: Path) -> dict:
        r = json.loads((run / "results.json").read_text())
        return {"history": [{**e, "time_s": 0} for e in r["history"]], "test": r["test"]}

    assert len(results(full)["history"]) == 3
    assert results(cut) == results(full)


def test_toml_holds_the_run_options_too(tmp_path):
    """out, dry-run and preset may come from the file (as before the nested configs); a flag
    overrides them, and a wrongly typed one is a one-line error naming the file."""
    data = Path(__file__).parent / "fixtures" / "checkpoints" / "data" / "questions.csv"
    out = tmp_path / "from-file"
    toml = tmp_path / "run.toml"
    toml.write_text(
        f'data = "{data}"\ntext-column = "question"\nlabel-column = "type"\nthreads = 1\n'
        f'quiet = true\nout = "{out}"\ndry-run = true\n[model]\nembed = 8\nhidden = 8\n'
    )
    assert main(["train", "classify", "--config", str(toml)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["history"]) == 1 and results["config"]["data"]["limit"] == 200
    other = tmp_path / "from-flag"
    assert main(["train", "classify", "--config", str(toml), "--out", str(other)]) == 0
    assert (other / "results.json").is_file()
    toml.write_text("resume = 3\n")
    assert main(["train", "classify", "--config", str(toml)]) == 2
