"""`seqlab train classify`, `evaluate`, `predict`: dry runs, configs, bad input, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_reviews

from seqlab.cli import main


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
    assert (cfg["model"], cfg["embed"], cfg["hidden"], cfg["max_length"]) == ("rnn", 6, 5, 12)


def test_unknown_toml_key_names_the_valid_ones(reviews, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("hidden_size = 3\n")
    assert main(["train", "classify", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "unknown option(s) hidden_size" in err and "batch-size" in err and "hidden " in err


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
    assert "embed" in capsys.readouterr().err


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
