"""Run a study plan: train each run once with `seqlab.tasks.classify.train`, keep its result.

Each run writes OUT/runs/NAME.json (result) and NAME.jsonl (per-epoch history), atomically, so
an interrupted study continues where it stopped: a run whose result exists is skipped. The
result stores a hash of the run's settings; a result from other settings (say, the quick study
in the same folder) is refused rather than silently reused. With `jobs > 1` independent runs
train in that many worker processes at once, longest first; each worker writes its own results.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqlab.atomic import write_text_atomic
from seqlab.errors import SeqlabError
from seqlab.study.sentiment import (
    RunSpec,
    StudySettings,
    epochs_budget,
    estimate_seconds,
    makespan,
    plan,
    run_configs,
    table_e,
)

RECURRENT = ("rnn", "lstm", "gru")
configs = run_configs  # the (ClassifyConfig, TrainConfig) of a run
# The ClassifyConfig fields that decide the data set (the rest decide the model).
DATA_FIELDS = (
    "data", "data_dir", "label_set", "text_column", "label_column", "limit", "split",
    "valid_fraction", "tokenizer", "stop_words", "min_freq", "max_vocab", "max_length", "truncate",
)  # fmt: skip


def data_key(spec: RunSpec, settings: StudySettings) -> str:
    """Equal for runs that read the same data set (same splits, vocabulary and maxlen)."""
    cfg, train = configs(spec, settings)
    return json.dumps([{k: getattr(cfg, k) for k in DATA_FIELDS}, train.seed], sort_keys=True)


def command_line(prefix: str, *configs: Any) -> str:
    """`prefix` and the options that set each config dataclass's fields that differ from their
    defaults (data folder, device and quiet left out): a run's reproducing command line."""
    parts = [prefix]
    for value in configs:
        default = type(value)()
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.name in ("data_dir", "device", "quiet") or v == getattr(default, f.name):
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(v, list | tuple):
                v = ",".join(map(str, v))
            parts.append(flag if v is True else f"--no-{flag[2:]}" if v is False else f"{flag} {v}")
    return " ".join(parts)


def command(spec: RunSpec, settings: StudySettings) -> str:
    """The `seqlab train classify` command line that repeats this run alone."""
    return command_line("seqlab train classify", *configs(spec, settings))


def selected_epoch(history: list[dict[str, Any]], train: dict[str, Any]) -> dict[str, Any]:
    """The epoch whose weights the model ends with: the best one under early stopping
    (Trainer restores it; first minimum of the monitored value), else the last."""
    if not train.get("patience"):
        return history[-1]
    from seqlab.train.config import TrainConfig

    cfg = TrainConfig.from_dict(train)
    key, higher = cfg.monitor, cfg.monitor_mode == "max"
    best = history[0]
    for record in history[1:]:
        if (record[key] > best[key]) if higher else (record[key] < best[key]):
            best = record
    return best


def train_run(spec: RunSpec, settings: StudySettings, data: Any = None) -> dict[str, Any]:
    """Train one run of the plan and return its result (history included).

    `data` is what `seqlab.tasks.classify.load_data` gives for the run's config (None: load it).
    """
    from seqlab.summary import summary
    from seqlab.tasks.classify import train

    cfg, train_cfg = configs(spec, settings)
    result = train(cfg, train_cfg, out_dir=None, data=data)
    final = selected_epoch(result.history, spec.train)
    return {
        "name": spec.name,
        "table": spec.table,
        "label": spec.label,
        "key": spec.key(settings),
        "config_key": spec.config_key(settings),
        "model": spec.model,
        "train": spec.train,
        "max_length": spec.max_length,
        "notes": spec.notes,
        "params": result.params,
        "epochs_run": len(result.history),
        "selected_epoch": final["epoch"],
        "valid_accuracy": final["valid_accuracy"],
        "valid_loss": final["valid_loss"],
        "test_accuracy": result.test["accuracy"],
        "test_loss": result.test["loss"],
        "train_wall_s": round(result.train_wall_s, 2),
        "summary": str(summary(result.model, length=spec.max_length))
        if spec.table == "a"
        else None,
        "command": command(spec, settings),
        "history": result.history,
    }


def write_result(runs_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write runs/NAME.jsonl (history) then runs/NAME.json, atomically; return `result`."""
    path = Path(runs_dir) / f"{result['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r) + "\n" for r in result["history"])
    write_text_atomic(path.with_suffix(".jsonl"), lines)
    write_text_atomic(path, json.dumps(result, indent=1) + "\n")  # last: marks the run done
    return result


_WORKER_DATA: dict[str, Any] = {}  # a worker process's data sets, by data_key


def train_in_worker(runs_dir: str, spec: RunSpec, settings: StudySettings) -> dict[str, Any]:
    """Train one run in a worker process with `settings.threads` threads; write its result."""
    import torch

    from seqlab.tasks.classify import load_data

    start = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    key = data_key(spec, settings)
    if key not in _WORKER_DATA:
        cfg, train_cfg = configs(spec, settings)
        _WORKER_DATA[key] = load_data(cfg, seed=train_cfg.seed)
    result = train_run(spec, settings, _WORKER_DATA[key])
    result["wall_s"] = round(time.perf_counter() - start, 2)
    return write_result(Path(runs_dir), result)


def plan_summary(specs: list[RunSpec], settings: StudySettings, jobs: int = 1) -> str:
    """How much training a plan asks for: runs, epochs and an estimate of the time."""
    unique = {s.config_key(settings): s for s in specs}
    seconds = [estimate_seconds(s, settings) for s in unique.values()]
    shared = len(specs) - len(unique)
    text = (
        f"{len(specs)} runs ({shared} share another run's model), "
        f"{epochs_budget(list(unique.values()))} epochs at most; "
        f"about {_duration(sum(seconds))} of training on one thread"
    )
    if jobs > 1:
        text += f", {_duration(makespan(seconds, jobs))} with --jobs {jobs}"
    return text + " (a rough estimate; early stopping ends some runs sooner)"


def _duration(seconds: float) -> str:
    """3 min, 2.4 h."""
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def load_result(path: Path, spec: RunSpec, settings: StudySettings) -> dict[str, Any] | None:
    """A finished run's result, or None; a result of other settings raises SeqlabError."""
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SeqlabError(
            f"{path} is not valid JSON ({e}); delete it to re-run {spec.name}"
        ) from None
    if result.get("key") != spec.key(settings):
        raise SeqlabError(
            f"{path} holds a result of other settings (another seed, or quick vs full); "
            "use another --out folder or delete it"
        )
    return result


class StudyRunner:
    """Trains the runs of a plan into OUT/runs, skipping finished ones."""

    def __init__(
        self, out: str | Path, settings: StudySettings, log: Callable[[str], None] = print
    ) -> None:
        self.out = Path(out)
        self.runs_dir = self.out / "runs"
        self.settings = settings
        self.log = log
        self.trained = 0
        # Finished results by config_key: a run that trains the same model as another (the base
        # LSTM appears in tables c and d) reuses its numbers instead of training again.
        self.by_config: dict[str, dict[str, Any]] = {}
        self.datasets: dict[str, Any] = {}  # data_key -> ClassificationData, loaded once
        for path in sorted(self.runs_dir.glob("*.json")):
            try:
                result = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # load_result reports it if the plan names this run
            if "config_key" in result:
                self.by_config.setdefault(result["config_key"], result)

    def result_path(self, spec: RunSpec) -> Path:
        """OUT/runs/NAME.json."""
        return self.runs_dir / f"{spec.name}.json"

    def data(self, spec: RunSpec) -> Any:
        """The run's data set; loaded once per data setting (splits, vocabulary, maxlen)."""
        from seqlab.tasks.classify import load_data

        key = data_key(spec, self.settings)
        if key not in self.datasets:
            cfg, train_cfg = configs(spec, self.settings)
            self.datasets[key] = load_data(cfg, seed=train_cfg.seed)
        return self.datasets[key]

    def run(self, spec: RunSpec, index: int = 0, total: int = 0) -> dict[str, Any]:
        """The run's result: read from OUT if it exists, else trained and written."""
        return self.run_all([spec], jobs=1, first=index)[0]

    def run_all(self, specs: list[RunSpec], jobs: int = 1, first: int = 1) -> list[dict[str, Any]]:
        """Results of `specs` (in their order): finished ones read back, the others trained,
        `jobs` at a time in worker processes when `jobs > 1`. Runs that train the same model as
        another train once; the others copy its numbers and say `same_as`."""
        results: dict[str, dict[str, Any]] = {}
        todo, twins = {}, []  # config_key -> the spec that trains it; (spec, key) copying one
        for spec in specs:
            result = load_result(self.result_path(spec), spec, self.settings)
            if result is not None:
                results[spec.name] = result
                self.log(f"{self._where(spec, specs, first)}: done before, skipped")
                continue
            key = spec.config_key(self.settings)
            if key in todo or key in self.by_config:
                twins.append((spec, key))
            else:
                todo[key] = spec
        order = list(todo.values())
        if jobs > 1:  # longest first, so the workers finish together
            order.sort(key=lambda s: -estimate_seconds(s, self.settings))
        for result, seconds in self._train(order, jobs):
            spec = next(s for s in order if s.name == result["name"])
            self.by_config[result["config_key"]] = results[spec.name] = result
            self.trained += 1
            self._report(spec, specs, first, result, seconds)
        for spec, key in twins:
            twin = self.by_config[key]
            result = {**twin, "name": spec.name, "table": spec.table, "label": spec.label}
            result |= {"key": spec.key(self.settings), "notes": spec.notes, "same_as": twin["name"]}
            results[spec.name] = write_result(self.runs_dir, result)
            self._report(spec, specs, first, result, 0.0, f" (same model as {twin['name']})")
        return [results[s.name] for s in specs]

    def _train(self, specs: list[RunSpec], jobs: int) -> Any:
        """Yield (result, seconds) of each trained run as it finishes; results are on disk."""
        if jobs <= 1 or len(specs) <= 1:
            for spec in specs:
                start = time.perf_counter()
                result = train_run(spec, self.settings, self.data(spec))
                result["wall_s"] = round(time.perf_counter() - start, 2)  # with data and test
                yield write_result(self.runs_dir, result), time.perf_counter() - start
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        for spec in {data_key(s, self.settings): s for s in specs}.values():
            self.data(spec)  # tokenize each data set once here; workers read the on-disk cache
        self.datasets.clear()
        # "spawn": a forked child would inherit torch's thread pools in an unknown state.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
        try:
            futures = [pool.submit(train_in_worker, str(self.runs_dir), s, self.settings)
                       for s in specs]  # fmt: skip
            for future in as_completed(futures):
                result = future.result()
                yield result, result["wall_s"]
        finally:
            pool.shutdown(cancel_futures=True)

    def _where(self, spec: RunSpec, specs: list[RunSpec], first: int) -> str:
        return f"[{first + specs.index(spec)}/{first + len(specs) - 1}] {spec.name}"

    def _report(
        self,
        spec: RunSpec,
        specs: list[RunSpec],
        first: int,
        result: dict,
        seconds: float,
        same: str = "",
    ) -> None:
        self.log(
            f"{self._where(spec, specs, first)}{same}: {result['params']:,} params, "
            f"{result['epochs_run']} epochs, valid {result['valid_accuracy']:.4f}, "
            f"test {result['test_accuracy']:.4f} ({seconds:.1f} s)"
        )

    def finished(self, specs: list[RunSpec]) -> list[dict[str, Any]]:
        """Results already in OUT for any of `specs` (for reports over earlier invocations)."""
        found = [load_result(self.result_path(s), s, self.settings) for s in specs]
        return [r for r in found if r is not None]

    def best_for_e(self) -> RunSpec:
        """The unidirectional recurrent run of tables b-d with the best validation accuracy.

        Chosen on validation accuracy, not test accuracy, so the test set stays unseen by the
        model selection.
        """
        specs = plan("bcd", self.settings.quick)
        done = {r["name"]: r for r in self.finished(specs)}
        candidates = [
            s
            for s in specs
            if s.name in done
            and s.model.get("model") in RECURRENT
            and not s.model.get("bidirectional")
        ]
        if not candidates:
            raise SeqlabError(
                f"table e needs finished runs of tables b, c or d in {self.runs_dir}; "
                "run them first (e.g. --only b,c,d,e)"
            )
        return max(candidates, key=lambda s: (done[s.name]["valid_accuracy"], s.name))

    def plan_e(self) -> list[RunSpec]:
        """Table e's run, planned from the results of b-d."""
        return table_e(self.best_for_e())  # the best run is already quickened if need be


def run_sentiment_study(
    out: str | Path,
    settings: StudySettings,
    tables: tuple[str, ...] = ("a", "b", "c", "d", "e", "f"),
    log: Callable[[str], None] = print,
    jobs: int = 1,
) -> Path:
    """Run the selected tables (skipping finished runs; `jobs` runs at a time) and write
    OUT/README.md with every table that has results in OUT; return the README's path."""
    import torch

    from seqlab.study.tables import write_readme

    start = time.perf_counter()
    threads = torch.get_num_threads()
    try:
        if settings.threads:
            torch.set_num_threads(settings.threads)
        by_table, best = _run_tables(Path(out), settings, tables, log, jobs)
    finally:
        torch.set_num_threads(threads)  # leave the caller's process as it was
    return write_readme(Path(out), settings, by_table, best, time.perf_counter() - start)


def _run_tables(
    out: Path,
    settings: StudySettings,
    tables: tuple[str, ...],
    log: Callable[[str], None],
    jobs: int = 1,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any] | None]:
    """Run the selected tables; return every table's results in OUT and table e's source."""
    runner = StudyRunner(out, settings, log)
    specs = plan(tables, settings.quick)
    log(f"planned: {plan_summary(specs, settings, jobs)}")
    if "e" in tables:
        runner.run_all(specs, jobs)  # e is planned from b-d, so they run first
        specs = runner.plan_e()
    runner.run_all(specs, jobs)
    # Report every table with results in OUT, also those of earlier invocations (--only).
    by_table = {t: runner.finished(plan(t, settings.quick)) for t in "abcd"}
    best, by_table["e"] = None, []
    if any(by_table[t] for t in "bcd"):
        best_spec = runner.best_for_e()
        best = runner.finished([best_spec])[0]
        by_table["e"] = runner.finished(table_e(best_spec))
    # Table f (learning curves) is drawn from the histories of all these runs.
    return by_table, best
