"""`seqlab study translation`: plan, quick run on synthetic pairs, resume, report."""

from __future__ import annotations

import csv
import json

from helpers import write_pairs

from seqlab.cli import main
from seqlab.study.translation import (
    SEQ2SEQ_CANDIDATES,
    TRANSFORMER_CANDIDATES,
    choose,
    plan,
    tuning_plan,
)


def test_plan_keeps_cell_attention_and_epochs_per_family():
    for seq2seq in SEQ2SEQ_CANDIDATES:
        for transformer in TRANSFORMER_CANDIDATES:
            runs = plan(epochs=10, chosen={"seq2seq": seq2seq, "transformer": transformer})
            assert len(runs) == 10
            for default, tuned in zip(runs[::2], runs[1::2], strict=True):
                assert (default.variant, tuned.variant) == ("default", "tuned")
                assert default.family == tuned.family
                for key in ("model", "cell", "attention", "embed", "hidden", "layers"):
                    assert default.model.get(key) == tuned.model.get(key)  # not "RNN->LSTM"
                assert default.train["epochs"] == tuned.train["epochs"] == 10  # nor more epochs
                assert tuned.model != default.model or tuned.train != default.train
    assert {r.family for r in runs} == {
        "rnn", "rnn-cosine", "lstm", "lstm-cosine", "transformer"
    }  # fmt: skip
    # Before the tuning has chosen, the plan holds the defaults only.
    assert [r.variant for r in plan(10)] == ["default"] * 5


def test_tuning_candidates_change_only_the_tuned_settings():
    defaults = {r.family: r for r in plan(10)}
    runs = tuning_plan(3)
    assert len(runs) == len(SEQ2SEQ_CANDIDATES) + len(TRANSFORMER_CANDIDATES)
    for run in runs:
        default = defaults[run.family]
        assert run.train["epochs"] == 3 and run.group == default.group
        for key in ("model", "cell", "attention", "embed", "hidden", "layers", "heads"):
            assert run.model.get(key) == default.model.get(key)
        assert run.model != default.model or {**run.train, "epochs": 10} != default.train
    assert {r.family for r in runs} == {"lstm-cosine", "transformer"}


def test_choose_takes_the_lowest_validation_perplexity_once_all_candidates_ran():
    names = [f"tune-seq2seq-{c.name}" for c in SEQ2SEQ_CANDIDATES]
    rows = [{"name": n, "group": "seq2seq", "valid_perplexity": p}
            for n, p in zip(names, (20.0, 18.5, 18.5, 19.0), strict=True)]  # fmt: skip
    assert choose(rows) == {"seq2seq": SEQ2SEQ_CANDIDATES[1]}  # the first of a tie
    assert choose(rows[:-1]) == {}  # a candidate still to run: nothing chosen yet


def test_answers_are_written_from_the_numbers():
    from seqlab.study.translation_report import answers

    def row(name, family, variant, ppl, bleu):
        return {"name": name, "family": family, "variant": variant, "valid_perplexity": ppl,
                "test_perplexity": ppl + 1, "test_bleu_tokenized": bleu}  # fmt: skip

    rows = [
        row("rnn-default", "rnn", "default", 40.0, 10.0),
        row("rnn-tuned", "rnn", "tuned", 30.0, 14.0),
        row("rnn-cosine-default", "rnn-cosine", "default", 20.0, 25.0),
        row("rnn-cosine-tuned", "rnn-cosine", "tuned", 21.0, 24.0),
    ]
    lines = answers(rows)
    assert lines[0].startswith("- **rnn**: tuning lowered") and "40 -> 30" in lines[0]
    assert "14" in lines[0] and "did not lower" in lines[1] and "20 -> 21" in lines[1]
    # attention: each family's better run (rnn-tuned 30, rnn-cosine-default 20)
    assert "rnn-cosine 20 against rnn 30" in lines[2]


def test_quick_study_runs_resumes_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    files = [p for n, seed in ((300, 0), (40, 1), (40, 2)) for p in write_pairs(tmp_path, n, seed)]
    out = tmp_path / "study"
    argv = ["study", "translation", "--quick", "--data", ",".join(map(str, files))]
    argv += ["--out", str(out), "--only", "rnn-cosine,transformer", "--epochs", "1"]
    assert main(argv) == 0
    readme = (out / "README.md").read_text()
    for name in ("rnn-cosine-default", "rnn-cosine-tuned", "transformer-tuned"):
        assert f"| {name} |" in readme
    assert "## What each tuned run changed, and why" in readme
    assert "## How the tuned settings were chosen" in readme
    assert "## Answers from these numbers" in readme
    assert "- test sacreBLEU (lc): `nrefs:1|case:lc|" in readme  # the signature, as recorded
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert len(rows) == 4 and all(float(r["test_perplexity"]) > 1 for r in rows)
    assert all("--out" in r["command"] and "--attention cosine" in r["command"] for r in rows[:2])
    # The tuned runs take the candidate of lowest validation perplexity of their group.
    tuning = list(csv.DictReader((out / "tuning.csv").open()))
    assert len(tuning) == len(SEQ2SEQ_CANDIDATES) + len(TRANSFORMER_CANDIDATES)
    assert all(r["epochs"] == "1" and (out / "tuning" / r["name"]).is_dir() for r in tuning)
    for row in tuning:
        row["valid_perplexity"] = float(row["valid_perplexity"])
    for group in ("seq2seq", "transformer"):
        best = min((r for r in tuning if r["group"] == group), key=lambda r: r["valid_perplexity"])
        assert choose(tuning)[group].name == best["name"].removeprefix(f"tune-{group}-")
        tuned = next(r for r in rows if r["group"] == group and r["variant"] == "tuned")
        assert tuned["why"] == choose(tuning)[group].why
    # A second call reads the finished runs back instead of training again.
    capsys.readouterr()
    before = (out / "runs" / "rnn-cosine-default" / "results.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "runs" / "rnn-cosine-default" / "results.json").stat().st_mtime_ns == before
    # A result recorded before a training setting existed is read back with that setting's
    # default (the real study's default runs predate --save-every).
    done = out / "runs" / "rnn-cosine-default" / "results.json"
    results = json.loads(done.read_text())
    del results["train_config"]["save_every"]
    done.write_text(json.dumps(results))
    assert main(argv) == 0, capsys.readouterr()
    assert "save_every" not in done.read_text()  # read back, not trained again
    # Other settings in the same folder are refused, not silently mixed.
    assert main([*argv[:-2], "--epochs", "2"]) == 2, capsys.readouterr()
    assert "other settings" in capsys.readouterr().err


def test_unknown_run_name_is_a_clear_error(tmp_path, capsys):
    assert main(["study", "translation", "--out", str(tmp_path), "--only", "gru", "--list"]) == 2
    assert "unknown runs gru" in capsys.readouterr().err
    assert main(["study", "translation", "--out", str(tmp_path), "--tune-epochs", "0"]) == 2
    assert "--tune-epochs must be at least 1, got 0" in capsys.readouterr().err


def test_listed_commands_reproduce_the_runs(tmp_path, capsys):
    """`seqlab train translate` with each listed command line builds exactly the run's configs."""
    from pathlib import Path

    from seqlab.cli import build_parser
    from seqlab.commands.options import run_config
    from seqlab.study.translation import TranslationStudySettings

    assert main(["study", "translation", "--out", str(tmp_path), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    settings = TranslationStudySettings(Path(tmp_path))
    runs = settings.runs()
    runs = settings.tuning_runs() + runs
    listed = [line for line in lines if "seqlab train translate" in line]
    assert [line.split()[0] for line in listed] == [r.name for r in runs]
    # The tuned runs wait for their tuning candidates.
    assert sum("once tuned" in line for line in lines) == 5
    parser = build_parser()
    for line, run in zip(listed, runs, strict=True):
        words = line.split()[1:]  # drop the run name
        assert words[:3] == ["seqlab", "train", "translate"]
        cfg, _ = run_config(parser.parse_args(words[1:]))
        want = settings.configs(run)
        assert (cfg.data, cfg.model, cfg.decode) == (want.data, want.model, want.decode)
        assert cfg.train.to_dict() | {"quiet": True} == want.train.to_dict()


def test_results_written_before_the_nested_configs_are_read_as_the_same_runs(tmp_path):
    """A finished run's results.json from before issue 18 holds flat option names (what
    `flatten` gives); the study reads it as the same run rather than refusing it."""
    from seqlab.config import flatten, to_dict
    from seqlab.study.translation import TranslationStudySettings, plan, saved_run

    settings = TranslationStudySettings(tmp_path, quick=True)
    for run in plan(2):
        cfg = settings.configs(run)
        flat = flatten(cfg, ("data", "model", "decode"))
        assert "embed" in flat and "model" in flat  # the old keys
        nested = {k: v for k, v in to_dict(cfg).items() if k != "train"}
        for config in (flat, nested):
            results = {"config": config, "train_config": cfg.train.to_dict()}
            assert saved_run(results, tmp_path / "results.json") == cfg
