"""Run a study plan resumably: each run trains once, and a finished run is read back.

Each run writes OUT/runs/NAME.json (result) and NAME.jsonl (per-epoch history), atomically, so
an interrupted study continues where it stopped: a run whose result exists is skipped. The
result stores a hash of the run's settings; a result from other settings (say, the quick study
in the same folder) is refused rather than silently reused. With `jobs > 1` independent runs
train in that many worker processes at once, longest first; each worker writes its own results.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.study.estimate import estimate_seconds, plan_summary
from seqlab.study.runs import (
    data_key,
    load_result,
    run_data,
    train_in_worker,
    train_run,
    write_result,
)
from seqlab.study.sentiment import RunSpec, StudySettings, plan, table_e

RECURRENT = ("rnn", "lstm", "gru")


class StudyRunner:
    """Trains the runs of a plan into OUT/runs, skipping finished ones."""

    def __init__(
        self, out: str | Path, settings: StudySettings, log: Callable[[str], None] = print
    ) -> None:
        self.runs_dir = Path(out) / "runs"
        self.settings = settings
        self.log = log
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
        key = data_key(spec, self.settings)
        if key not in self.datasets:
            self.datasets[key] = run_data(spec, self.settings)
        return self.datasets[key]

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
