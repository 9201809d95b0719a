"""Run a study plan: train each run once with `seqlab.tasks.classify.train`, keep its result.

Each run writes OUT/runs/NAME.json (result) and NAME.jsonl (per-epoch history), atomically, so
an interrupted study continues where it stopped: a run whose result exists is skipped. The
result stores a hash of the run's settings; a result from other settings (say, the quick study
in the same folder) is refused rather than silently reused.
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
from seqlab.study.sentiment import RunSpec, StudySettings, plan, table_e

RECURRENT = ("rnn", "lstm", "gru")


def configs(spec: RunSpec, settings: StudySettings) -> tuple[Any, Any]:
    """The (ClassifyConfig, TrainConfig) of a run, exactly what `seqlab train classify` builds."""
    from seqlab.tasks.configs import ClassifyConfig
    from seqlab.train import TrainConfig

    cfg = ClassifyConfig(
        data="imdb",
        data_dir=settings.data_dir,
        limit=settings.limit,
        valid_fraction=settings.valid_fraction,
        max_vocab=settings.vocab_size,
        max_length=spec.max_length,
        **spec.model,
    )
    train = {"batch_size": settings.batch_size, "seed": settings.seed, **spec.train}
    return cfg, TrainConfig(device=settings.device, quiet=True, **train)


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
        self.datasets: dict[int, Any] = {}  # max_length -> ClassificationData, loaded once
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
        """The run's data set; loaded once per maxlen (the other data settings are shared)."""
        from seqlab.tasks.classify import load_data

        if spec.max_length not in self.datasets:
            cfg, train_cfg = configs(spec, self.settings)
            self.datasets[spec.max_length] = load_data(cfg, seed=train_cfg.seed)
        return self.datasets[spec.max_length]

    def run(self, spec: RunSpec, index: int = 0, total: int = 0) -> dict[str, Any]:
        """The run's result: read from OUT if it exists, else trained and written."""
        path = self.result_path(spec)
        where = f"[{index}/{total}] {spec.name}"
        result = load_result(path, spec, self.settings)
        if result is not None:
            self.log(f"{where}: done before, skipped")
            return result
        start = time.perf_counter()
        twin = self.by_config.get(spec.config_key(self.settings))
        if twin is not None:
            result = {**twin, "name": spec.name, "table": spec.table, "label": spec.label}
            result |= {"key": spec.key(self.settings), "notes": spec.notes, "same_as": twin["name"]}
        else:
            result = train_run(spec, self.settings, self.data(spec))
            result["wall_s"] = round(time.perf_counter() - start, 2)  # with data and test
            self.by_config[result["config_key"]] = result
        lines = "".join(json.dumps(r) + "\n" for r in result["history"])
        write_text_atomic(path.with_suffix(".jsonl"), lines)
        write_text_atomic(path, json.dumps(result, indent=1) + "\n")  # last: marks the run done
        self.trained += twin is None
        same = f" (same model as {twin['name']})" if twin is not None else ""
        self.log(
            f"{where}{same}: {result['params']:,} params, {result['epochs_run']} epochs, "
            f"valid {result['valid_accuracy']:.4f}, test {result['test_accuracy']:.4f} "
            f"({time.perf_counter() - start:.1f} s)"
        )
        return result

    def run_all(self, specs: list[RunSpec]) -> list[dict[str, Any]]:
        """Run `specs` in order."""
        return [self.run(s, i + 1, len(specs)) for i, s in enumerate(specs)]

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
) -> Path:
    """Run the selected tables (skipping finished runs) and write OUT/README.md with every
    table that has results in OUT; return the README's path."""
    import torch

    from seqlab.study.tables import write_readme

    start = time.perf_counter()
    threads = torch.get_num_threads()
    try:
        if settings.threads:
            torch.set_num_threads(settings.threads)
        by_table, best = _run_tables(Path(out), settings, tables, log)
    finally:
        torch.set_num_threads(threads)  # leave the caller's process as it was
    return write_readme(Path(out), settings, by_table, best, time.perf_counter() - start)


def _run_tables(
    out: Path, settings: StudySettings, tables: tuple[str, ...], log: Callable[[str], None]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any] | None]:
    """Run the selected tables; return every table's results in OUT and table e's source."""
    runner = StudyRunner(out, settings, log)
    specs = plan(tables, settings.quick)
    if "e" in tables:
        runner.run_all(specs)  # e is planned from b-d, so they run first
        specs = runner.plan_e()
    runner.run_all(specs)
    # Report every table with results in OUT, also those of earlier invocations (--only).
    by_table = {t: runner.finished(plan(t, settings.quick)) for t in "abcd"}
    best, by_table["e"] = None, []
    if any(by_table[t] for t in "bcd"):
        best_spec = runner.best_for_e()
        best = runner.finished([best_spec])[0]
        by_table["e"] = runner.finished(table_e(best_spec))
    # Table f (learning curves) is drawn from the histories of all these runs.
    return by_table, best
