"""The sentiment study's plan, Pareto front, tables and resumable runner (no training here)."""

import dataclasses
import json
import random
import shlex

import pytest

from seqlab.errors import SeqlabError
from seqlab.study import report
from seqlab.study.estimate import estimate_seconds, makespan, plan_summary
from seqlab.study.runner import StudyRunner
from seqlab.study.runs import command, selected_epoch
from seqlab.study.sentiment import (
    StudySettings,
    compound_grid,
    parse_only,
    plan,
    run_configs,
    scaling_kind,
    table_e,
)


def test_full_plan_has_every_table_row():
    runs = plan("abcd", quick=False)
    names = [s.name for s in runs]
    assert len(names) == len(set(names))
    by_table = {t: [s for s in runs if s.table == t] for t in "abcd"}
    assert [s.name for s in by_table["a"][:3]] == ["a-dense", "a-rnn", "a-lstm"]
    assert {s.max_length for s in by_table["a"]} == {20, 100, 200}
    # b: the Duke assignment: 2 cells x (SGD 0.01 sanity check + 3 optimizers at 1e-3), 5 epochs.
    assert len(by_table["b"]) == 8
    assert {s.train["epochs"] for s in by_table["b"]} == {5}
    lrs = {s.train["optimizer"]: s.train["lr"] for s in by_table["b"]}
    assert lrs == {"sgd": 1e-2, "adam": 1e-3, "adagrad": 1e-3, "rmsprop": 1e-3}
    factors = {}
    for s in by_table["c"]:
        factors.setdefault(s.notes["factor"], []).append(s.notes["value"])
    assert factors == {
        "depth": [1, 2, 3, 4],
        "hidden": [25, 50, 100, 200, 320],
        "embed": [1, 4, 16, 64, 100, 256],
        "dropout": [0.0, 0.5],
    }
    assert 10 <= len(by_table["d"]) <= 50  # the compound-scaling budget
    # The base LSTM appears three times in c and 2 x LSTM(100) twice; each trains once.
    settings = StudySettings()
    keys = {s.name: s.config_key(settings) for s in runs}
    assert keys["c-depth-1"] == keys["c-hidden-100"] == keys["c-embed-100"]
    assert keys["c-depth-2"] == keys["c-dropout-0.0"]
    assert len(set(keys.values())) == len(runs) - 3


def test_tables_b_to_e_use_the_duke_data_and_table_a_the_keras_data():
    settings = StudySettings()
    for spec in plan("abcd"):
        run = run_configs(spec, settings)
        data, model = run.data, run.model
        if spec.table == "a":
            assert (data.split, data.stop_words, data.max_vocab) == (None, "none", 10_000)
        else:
            assert (data.split, data.stop_words, data.min_freq) == ("7:1:2", "english", 5)
            assert data.max_vocab is None and data.max_length == 256 and run.train.epochs == 5
        if spec.table in "bc" and spec.notes.get("factor") not in ("hidden", "embed"):
            assert (model.hidden_size, model.embed_dim) == (100, 100)  # the assignment's LSTM(100)
    (e,) = table_e(plan("b")[1])
    assert e.data == plan("b")[1].data


def test_config_key_compares_the_built_configs():
    # Spelled differently (a default given or left out), the same model trains once.
    settings = StudySettings()
    spec = plan("a")[2]
    same = dataclasses.replace(spec, name="x", label="y", model={**spec.model, "layers": 1})
    assert same.config_key(settings) == spec.config_key(settings)
    other = dataclasses.replace(spec, data={"stop_words": "english"})
    assert other.config_key(settings) != spec.config_key(settings)


def test_compound_grid_has_single_factor_controls():
    kinds = {s.notes.get("scaling") for s in plan("d")[1:]}
    assert kinds == {"compound", "depth", "width", "embedding"}
    assert scaling_kind(1.0, 1.19, 1.19) == "compound" and scaling_kind(1, 1.41, 1) == "width"


def test_time_estimate_grows_with_the_model_and_parallel_runs_share_it():
    settings = StudySettings()
    c = {s.name: s for s in plan("c")}
    small, big = (estimate_seconds(c[n], settings) for n in ("c-hidden-25", "c-hidden-320"))
    assert 0 < small < big
    assert makespan([3.0, 2.0, 2.0, 1.0], 2) == 4.0 and makespan([1.0, 1.0], 1) == 2.0
    text = plan_summary(plan("b"), settings, jobs=2)
    assert text.startswith("8 runs (0 share another run's model), 40 epochs at most")
    assert "with --jobs 2" in text


def test_compound_coefficients_double_the_work_per_phi():
    for quick in (False, True):
        for alpha, beta, gamma, phi in compound_grid(quick):
            assert alpha * beta**2 * gamma**2 == pytest.approx(2.0)
            assert phi >= 1
    shapes = [(s.model["layers"], s.model["hidden"], s.model["embed"]) for s in plan("d")]
    assert len(shapes) == len(set(shapes))  # configurations that round alike run once
    assert max(d for d, _, _ in shapes) <= 4


def test_quick_plan_is_short():
    quick = plan("abcd", quick=True)
    assert all(s.train["epochs"] <= 2 for s in quick)
    assert {s.table for s in quick} == set("abcd")
    assert len(quick) < len(plan("abcd", quick=False)) / 2
    decay = next(s for s in quick if s.name == "a-lstm-decay")
    assert decay.train["decay_after"] < decay.train["epochs"]  # the decay happens at all


def test_table_a_models_have_the_keras_parameter_counts():
    from seqlab.tasks.classify import TASK

    settings = StudySettings()
    want = {"a-dense": 170_305, "a-rnn": 161_601, "a-lstm": 166_305, "a-lstm2-dropout": 174_625}
    for spec in plan("a"):
        if spec.name in want:
            run = run_configs(spec, settings)
            model = TASK.make_model(run, vocab_size=settings.vocab_size, num_classes=2)
            assert sum(p.numel() for p in model.parameters()) == want[spec.name], spec.name


def test_each_run_command_rebuilds_its_configs():
    # The `command` column must repeat the run: parse it with the real CLI parser.
    from seqlab.cli import build_parser
    from seqlab.commands.options import run_config

    settings = StudySettings.for_mode(quick=True, seed=3)
    parser = build_parser()
    for spec in plan("abcd", quick=True):
        args = parser.parse_args(shlex.split(command(spec, settings))[1:])
        run, _ = run_config(args)
        want = run_configs(spec, settings)
        assert (run.data, run.model) == (want.data, want.model)
        assert dataclasses.replace(run.train, quiet=True) == want.train


def test_parse_only():
    assert parse_only(None) == tuple("abcdef")
    assert parse_only("a, C,a") == ("a", "c")
    with pytest.raises(SeqlabError, match="table letters"):
        parse_only("a,x")


def test_pareto_front_matches_brute_force():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        params = [rng.choice([10, 20, 30, 40]) for _ in range(n)]
        scores = [rng.choice([0.5, 0.6, 0.7]) for _ in range(n)]

        def dominated(i, params=params, scores=scores, n=n):
            return any(
                (params[j] <= params[i] and scores[j] > scores[i])
                or (params[j] < params[i] and scores[j] >= scores[i])
                for j in range(n)
            )

        front = report.pareto_front(params, scores)
        keep = [i for i in range(n) if not dominated(i)]
        # Ties (same params and score) keep one representative.
        assert {(params[i], scores[i]) for i in front} == {(params[i], scores[i]) for i in keep}
        assert len(front) == len({(params[i], scores[i]) for i in keep})


def test_selected_epoch_is_the_one_early_stopping_restores():
    history = [{"epoch": e, "valid_loss": v} for e, v in enumerate([0.6, 0.5, 0.5, 0.7], 1)]
    assert selected_epoch(history, {"patience": 2})["epoch"] == 2  # first minimum
    assert selected_epoch(history, {})["epoch"] == 4


def fake_result(spec, settings, acc):
    return {
        "name": spec.name,
        "key": spec.key(settings),
        "config_key": spec.config_key(settings),
        "valid_accuracy": acc,
        "test_accuracy": acc,
    }


def test_runner_skips_finished_runs_and_refuses_stale_ones(tmp_path, monkeypatch):
    settings = StudySettings.for_mode(quick=True)
    specs = plan("c", quick=True)[:2]
    trained = []

    def train_run(spec, _settings, _data):
        trained.append(spec.name)
        return fake_result(spec, _settings, 0.5) | {"params": 1, "epochs_run": 1, "history": []}

    monkeypatch.setattr("seqlab.study.runner.train_run", train_run)
    monkeypatch.setattr("seqlab.study.runner.StudyRunner.data", lambda self, spec: None)
    runner = StudyRunner(tmp_path, settings, log=lambda _: None)
    runner.run_all(specs)
    assert trained == [s.name for s in specs]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(
        f"{s.name}.{ext}" for s in specs for ext in ("json", "jsonl")
    )
    StudyRunner(tmp_path, settings, log=lambda _: None).run_all(specs)
    assert len(trained) == 2  # both skipped the second time
    other = StudySettings.for_mode(quick=True, seed=1)
    with pytest.raises(SeqlabError, match="other settings"):
        StudyRunner(tmp_path, other, log=lambda _: None).run_all(specs)


def test_runner_trains_a_shared_model_once(tmp_path, monkeypatch):
    settings = StudySettings.for_mode(quick=True)
    specs = [s for s in plan("c", quick=True) if s.name in ("c-depth-1", "c-hidden-100")]
    trained = []

    def train_run(spec, _settings, _data):
        trained.append(spec.name)
        return fake_result(spec, _settings, 0.5) | {"params": 1, "epochs_run": 1, "history": []}

    monkeypatch.setattr("seqlab.study.runner.train_run", train_run)
    monkeypatch.setattr("seqlab.study.runner.StudyRunner.data", lambda self, spec: None)
    results = StudyRunner(tmp_path, settings, log=lambda _: None).run_all(specs)
    assert trained == ["c-depth-1"]
    assert [r["name"] for r in results] == ["c-depth-1", "c-hidden-100"]
    assert results[1]["same_as"] == "c-depth-1" and results[1]["key"] == specs[1].key(settings)
    saved = json.loads((tmp_path / "runs" / "c-hidden-100.json").read_text())
    assert saved["same_as"] == "c-depth-1"


def test_table_e_takes_the_best_unidirectional_run_by_validation(tmp_path):
    settings = StudySettings.for_mode(quick=True)
    runner = StudyRunner(tmp_path, settings)
    with pytest.raises(SeqlabError, match="table e needs"):
        runner.best_for_e()
    runs = tmp_path / "runs"
    runs.mkdir()
    specs = plan("b", quick=True)[:3]
    for spec, acc in zip(specs, [0.6, 0.8, 0.7], strict=True):
        (runs / f"{spec.name}.json").write_text(json.dumps(fake_result(spec, settings, acc)))
    best = runner.best_for_e()
    assert best == specs[1]
    (e,) = table_e(best)
    assert e.model == {**best.model, "bidirectional": True} and e.train == best.train


def test_markdown_and_csv(tmp_path):
    rows = [{"name": "x", "acc": 0.8765, "params": 170305}, {"name": "y", "acc": 0.5, "params": 1}]
    md = report.markdown(rows, [("name", "run"), ("acc", "acc"), ("params", "params")])
    assert md.splitlines()[1] == "| --- | ---: | ---: |"
    assert "| x | 0.8765 | 170,305 |" in md
    report.write_csv(tmp_path / "t.csv", rows)
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "name,acc,params",
        "x,0.8765,170305",
        "y,0.5,1",
    ]


def test_plan_names_are_stable():
    # Result files are named after runs; renaming a run would orphan finished results.
    names = [s.name for s in plan("abcd")]
    assert names[:3] == ["a-dense", "a-rnn", "a-lstm"]


def test_plan_refuses_two_runs_of_one_name(monkeypatch):
    # Two runs of one name would share a result file: the second would read the first's back.
    from seqlab.study import sentiment

    monkeypatch.setattr(sentiment, "table_b", lambda quick: sentiment.table_a(quick)[:1])
    with pytest.raises(AssertionError, match="run names in the study plan must be unique"):
        plan("ab")


def test_cli_lists_the_plan_and_rejects_unknown_tables(tmp_path, capsys):
    from seqlab.cli import main

    assert main(["study", "sentiment", "--quick", "--list", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(plan("abcd", quick=True)) + 2  # + table e, planned later; estimate
    assert lines[-1].startswith("planned: ") and "min of training" in lines[-1]
    assert lines[0].split()[0] == "a-dense" and "--model dense" in lines[0]
    assert main(["study", "sentiment", "--only", "a,z", "--out", str(tmp_path)]) == 2
    assert "table letters" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_plots_choose_on_validation_and_write_pngs(tmp_path):
    history = [
        {"epoch": e, "train_loss": 0.861 - e * 1e-4, "valid_loss": 0.8612 - e * 1e-4}
        | {"train_accuracy": 0.5, "valid_accuracy": 0.5}
        for e in (1, 2, 3)
    ]
    results = [
        {"name": n, "label": n, "params": p, "valid_accuracy": v, "test_accuracy": t}
        | {"notes": {"scaling": k}, "history": history, "selected_epoch": 2}
        for n, p, v, t, k in [
            ("small", 10, 0.80, 0.90, "width"),  # best test, worse validation
            ("big", 20, 0.85, 0.70, "compound"),
        ]
    ]
    assert report.plot_pareto(tmp_path / "p.png", results) == [0, 1]  # both on the front
    results[1]["valid_accuracy"] = 0.79
    assert report.plot_pareto(tmp_path / "p.png", results) == [0]  # "big" is dominated on valid
    report.plot_curves(tmp_path / "c.png", results[0])
    rows = [{"opt": o, "cell": c, "test_accuracy": 0.6} for o in "ab" for c in ("LSTM", "GRU")]
    report.plot_bars(tmp_path / "b.png", rows, "opt", "cell")
    rows = [{"factor": f, "value": v, "valid_accuracy": 0.8, "test_accuracy": 0.7}
            for f in ("depth", "hidden") for v in (1, 2)]  # fmt: skip
    report.plot_sweeps(tmp_path / "s.png", rows)
    for name in ("p", "c", "b", "s"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_settings_section_of_the_full_study():
    """The full study (no review limit) writes its settings and summed times; the quick one says
    it is a subset. (Formatting the absent limit once crashed the full study's README.)"""
    from seqlab.study.tables import settings_section

    results = [
        {"train_wall_s": 3000.0, "wall_s": 3100.0},
        {"train_wall_s": 600.0},
        {"train_wall_s": 3000.0, "same_as": "x"},  # a shared run counts once
    ]
    text = settings_section(StudySettings.for_mode(quick=False), 12.0, results)
    assert "quick study" not in text
    assert "the 3 runs trained for 3,600 s (1.0 h) in all, 3,700 s (1.0 h)" in text
    assert "this invocation took 12 s" in text
    quick = settings_section(StudySettings.for_mode(quick=True), 1.0, results)
    assert "class-balanced subsets of 2,000 reviews per split (quick study)" in quick
