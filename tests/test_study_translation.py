"""`seqlab study translation`: plan, quick run on synthetic pairs, resume, report."""

from __future__ import annotations

import csv

from helpers import write_pairs

from seqlab.cli import main
from seqlab.study.translation import plan


def test_plan_keeps_cell_attention_and_epochs_per_family():
    runs = plan(epochs=10)
    assert len(runs) == 10
    for default, tuned in zip(runs[::2], runs[1::2], strict=True):
        assert (default.variant, tuned.variant) == ("default", "tuned")
        assert default.family == tuned.family
        for key in ("model", "cell", "attention", "embed", "hidden", "layers"):
            assert default.model.get(key) == tuned.model.get(key)  # not "just switch RNN->LSTM"
        assert default.train["epochs"] == tuned.train["epochs"] == 10  # nor "more epochs"
        assert tuned.model != default.model or tuned.train != default.train
    assert {r.family for r in runs} == {
        "rnn", "rnn-cosine", "lstm", "lstm-cosine", "transformer"
    }  # fmt: skip


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
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert len(rows) == 4 and all(float(r["test_perplexity"]) > 1 for r in rows)
    assert all("--out" in r["command"] and "--attention cosine" in r["command"] for r in rows[:2])
    # A second call reads the finished runs back instead of training again.
    capsys.readouterr()
    before = (out / "runs" / "rnn-cosine-default" / "results.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "runs" / "rnn-cosine-default" / "results.json").stat().st_mtime_ns == before
    # Other settings in the same folder are refused, not silently mixed.
    assert main([*argv[:-2], "--epochs", "2"]) == 2, capsys.readouterr()
    assert "other settings" in capsys.readouterr().err


def test_unknown_run_name_is_a_clear_error(tmp_path, capsys):
    assert main(["study", "translation", "--out", str(tmp_path), "--only", "gru", "--list"]) == 2
    assert "unknown runs gru" in capsys.readouterr().err


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
    assert [line.split()[0] for line in lines] == [r.name for r in runs]
    parser = build_parser()
    for line, run in zip(lines, runs, strict=True):
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
    from seqlab.study.translation import TranslationStudySettings, _saved_config, plan

    settings = TranslationStudySettings(tmp_path, quick=True)
    for run in plan(2):
        cfg = settings.configs(run)
        flat = flatten(cfg, ("data", "model", "decode"))
        assert "embed" in flat and "model" in flat  # the old keys
        wanted = {k: v for k, v in to_dict(cfg).items() if k != "train"}
        assert _saved_config({"config": flat}) == wanted
        assert _saved_config({"config": wanted}) == wanted
