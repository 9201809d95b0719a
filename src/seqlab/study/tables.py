"""Write the study's outputs: one CSV and one Markdown section per table, plots, README.md."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path
from typing import Any

from seqlab.study import report
from seqlab.study.report import COLUMNS
from seqlab.study.sentiment import BASE, TITLES, StudySettings, length

CSV_NAMES = {
    "a": "a_keras.csv",
    "b": "b_optimizers.csv",
    "c": "c_depth_width_embedding.csv",
    "d": "d_compound_scaling.csv",
    "e": "e_bidirectional.csv",
    "f": "f_learning_curves.csv",
}
NOTES = {"b": ["cell"], "c": ["factor", "value"], "d": ["alpha", "beta", "gamma", "phi"]}
NOTES["e"] = ["from"]


def section(
    out: Path, table: str, results: list[dict[str, Any]], best: dict[str, Any] | None
) -> str:
    """Write table `table`'s CSV and plots; return its Markdown section."""
    rows = [report.row(r, NOTES.get(table, ())) for r in results]
    report.write_csv(out / CSV_NAMES[table], rows)
    columns = list(COLUMNS)
    if table == "d":
        columns = columns[:2] + [("phi", "phi"), ("layers", "depth"), ("hidden", "hidden")]
        columns += [("embed", "embed")] + list(COLUMNS[5:])
    parts = [f"## {table}. {TITLES[table]}", "", report.markdown(rows, columns), ""]
    parts.append(f"CSV: [{CSV_NAMES[table]}]({CSV_NAMES[table]})")
    if table == "a":
        parts += [
            "",
            "Model summaries (`seqlab.summary`, on one review of maxlen tokens; a recurrent layer "
            "outputs every step, the classifier takes the last real one):",
            "",
        ]
        shown = set()
        for r in results:
            if r["summary"] and r["summary"] not in shown:  # one per distinct architecture
                shown.add(r["summary"])
                parts += [f"**{r['label']}**", "", "```", r["summary"], "```", ""]
    if table == "b":
        report.plot_bars(out / "b_optimizers.png", [rr | {"opt": r["notes"]["optimizer"]}
                         for r, rr in zip(results, rows, strict=True)], "opt", "cell")  # fmt: skip
        parts += ["", "![optimizers](b_optimizers.png)"]
    if table == "c":
        report.plot_sweeps(out / "c_sweeps.png", rows)
        parts += ["", "![sweeps](c_sweeps.png)"]
    if table == "d":
        front = report.plot_pareto(out / "d_pareto.png", results)
        names = ", ".join(results[i]["name"] for i in front)
        parts += ["", f"Pareto front (fewest parameters for their test accuracy): {names}.", ""]
        parts += ["![accuracy versus parameters](d_pareto.png)"]
    if table == "e" and best is not None:
        parts += [
            "",
            f"Best unidirectional model of tables b-d by validation accuracy: `{best['name']}` "
            f"({best['label']}; valid {best['valid_accuracy']:.4f}, "
            f"test {best['test_accuracy']:.4f}, {best['params']:,} params).",
        ]
    return "\n".join(parts)


def curves_section(out: Path, results: list[dict[str, Any]]) -> str:
    """Table f: one PNG of loss and accuracy curves per run, and all numbers in one CSV."""
    folder = out / "curves"
    folder.mkdir(parents=True, exist_ok=True)
    links = []
    for r in results:
        png = folder / f"{r['name']}.png"
        report.plot_curves(png, r)
        links.append(f"[{r['name']}](curves/{png.name})")
    report.write_csv(out / CSV_NAMES["f"], report.curve_rows(results))
    return "\n".join(
        [
            f"## f. {TITLES['f']}",
            "",
            f"Per-epoch train/valid loss and accuracy of all {len(results)} runs: "
            f"[{CSV_NAMES['f']}]({CSV_NAMES['f']}); histories in `runs/NAME.jsonl`.",
            "",
            " · ".join(links),
        ]
    )


def settings_section(settings: StudySettings, wall_s: float, results: list[dict]) -> str:
    """The settings every run shares, and the time spent."""
    import torch

    data = (
        f"class-balanced subsets of {settings.limit:,} reviews per split (quick study)"
        if settings.limit
        else "the official 25,000 train / 25,000 test reviews"
    )
    train_s = sum(r["train_wall_s"] for r in results if "same_as" not in r)
    run_s = sum(r.get("wall_s", r["train_wall_s"]) for r in results if "same_as" not in r)
    return "\n".join(
        [
            "## Settings",
            "",
            f"- Data: IMDB (Maas et al. 2011), {data}; {settings.valid_fraction:.0%} of train "
            f"held out for validation (stratified, seed {settings.seed}); vocabulary "
            f"{settings.vocab_size:,} entries including `<pad>` and `<unk>`; long reviews "
            "keep their last tokens (Keras' `pad_sequences` truncating='pre').",
            f"- Batch size {settings.batch_size}; binary cross-entropy on one sigmoid unit; seed "
            f"{settings.seed} for every run, so any run can be repeated alone by its `command`.",
            f"- Tables b-e start from {BASE['layers']} x {BASE['model'].upper()}"
            f"({BASE['hidden']}), embedding {BASE['embed']}, maxlen {length(settings.quick)}, "
            "Adam 1e-3; tables c and d stop early when the validation loss has not improved "
            f"for {1 if settings.quick else 2} epoch(s) and keep the best epoch; table e trains "
            "like the model it copies.",
            "- valid acc is the accuracy of the kept epoch (the last, or the best under early "
            "stopping); test acc is measured once, after training.",
            f"- Time: training summed over the {len(results)} runs {train_s:.1f} s; with data "
            f"loading and test evaluation {run_s:.1f} s (runs trained by earlier invocations "
            f"included); this invocation {wall_s:.1f} s.",
            f"- Machine: {platform.processor() or platform.machine()}, "
            f"{settings.threads or torch.get_num_threads()} torch thread(s), "
            f"torch {torch.__version__}, "
            f"{datetime.date.today().isoformat()}.",
        ]
    )


def write_readme(
    out: Path,
    settings: StudySettings,
    by_table: dict[str, list[dict[str, Any]]],
    best: dict[str, Any] | None,
    wall_s: float,
) -> Path:
    """Write every table's files and OUT/README.md; return its path."""
    everything = [r for rs in by_table.values() for r in rs]
    title = "IMDB sentiment study" + (" (quick)" if settings.quick else "")
    quick = "--quick " if settings.quick else ""
    again = f"Regenerate: `seqlab study sentiment {quick}--seed {settings.seed} --out DIR`."
    parts = [f"# {title}", "", again, ""]
    parts += [settings_section(settings, wall_s, everything), ""]
    for table, results in by_table.items():
        if results:
            parts += [section(out, table, results, best), ""]
    if everything:
        parts += [curves_section(out, everything), ""]
    path = out / "README.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
