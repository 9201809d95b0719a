"""Write the study's outputs: one CSV and one Markdown section per table, plots, README.md."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from seqlab.study import report
from seqlab.study.answers import answers
from seqlab.study.report import COLUMNS
from seqlab.study.sentiment import (
    BASE,
    BASE_TRAIN,
    DUKE_DATA,
    SMALL,
    TITLES,
    StudySettings,
    length,
)
from seqlab.train.device import cpu_name

CSV_NAMES = {
    "a": "a_keras.csv",
    "b": "b_optimizers.csv",
    "c": "c_depth_width_embedding.csv",
    "d": "d_compound_scaling.csv",
    "e": "e_bidirectional.csv",
    "f": "f_learning_curves.csv",
}
NOTES = {"b": ["cell"], "c": ["factor", "value"]}
NOTES["d"] = ["alpha", "beta", "gamma", "phi", "scaling"]
NOTES["e"] = ["from"]


def section(
    out: Path, table: str, results: list[dict[str, Any]], best: dict[str, Any] | None
) -> str:
    """Write table `table`'s CSV and plots; return its Markdown section."""
    rows = [report.row(r, NOTES.get(table, ())) for r in results]
    report.write_csv(out / CSV_NAMES[table], rows)
    columns = list(COLUMNS)
    if table == "d":
        columns = columns[:2] + [("phi", "phi"), ("scaling", "scaling"), ("layers", "depth")]
        columns += [("hidden", "hidden")]
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
        parts += [
            "",
            f"Pareto front (fewest parameters for their validation accuracy): {names}.",
            "",
        ]
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
    """The settings every run shares, where they differ from the assignments, the time spent."""
    import torch

    limit = ""
    if settings.limit:
        limit = f"; class-balanced subsets of {settings.limit:,} reviews per split (quick study)"
    train_s = sum(r["train_wall_s"] for r in results if "same_as" not in r)
    run_s = sum(r.get("wall_s", r["train_wall_s"]) for r in results if "same_as" not in r)
    maxlen = length(settings.quick)
    patience = 1 if settings.quick else 2
    return "\n".join(
        [
            "## Settings",
            "",
            f"- Table a (the Keras course, Chollet §6.2): IMDB's official 25,000 train / 25,000 "
            f"test reviews, {settings.valid_fraction:.0%} of train held out for validation "
            f"(stratified, seed {settings.seed}); vocabulary {settings.vocab_size:,} entries "
            "including `<pad>` and `<unk>`; long reviews keep their last tokens (Keras' "
            f"`pad_sequences` truncating='pre'){limit}.",
            "- Tables b-e (the Duke assignment): all 50,000 labelled reviews pooled and split "
            f"7:1:2 (35,000 / 5,000 / 10,000, stratified, seed {settings.seed}); NLTK's 179 "
            "English stop words removed (`--stop-words english`; the list includes negations "
            f"such as *not*, *no* and *don*); words seen fewer than {DUKE_DATA['min_freq']} "
            f"times in train dropped; the first {maxlen} tokens kept; base model "
            f"{BASE['layers']} x {BASE['model'].upper()}({BASE['hidden']}), embedding "
            f"{BASE['embed']}, {BASE_TRAIN['epochs']} epochs, Adam 1e-3 "
            "(`seqlab train classify --preset duke` is its SGD sanity check).",
            f"- Tables c and d stop early when the validation loss has not improved for "
            f"{patience} epoch(s) and keep the best epoch; table e trains like the model it "
            "copies. valid acc is the accuracy of the kept epoch; test acc is measured once, "
            "after training.",
            f"- Batch size {settings.batch_size}; binary cross-entropy on one sigmoid unit; seed "
            f"{settings.seed} for every run, so any run can be repeated alone by its `command`.",
            f"- Time: the {len(results)} runs trained for {train_s:,.0f} s "
            f"({train_s / 3600:.1f} h) in all, {run_s:,.0f} s ({run_s / 3600:.1f} h) with data "
            "loading and test evaluation, summed over runs (with `--jobs N` N of them train at "
            "once, so start to finish takes less). Runs finished by earlier invocations count "
            f"in; this invocation took {wall_s:,.0f} s.",
            f"- Machine: {cpu_name()}, "
            f"{settings.threads or torch.get_num_threads()} torch thread(s) per run, "
            f"torch {torch.__version__}, "
            f"{datetime.date.today().isoformat()}.",
            "",
            "### Where the study differs from the assignments",
            "",
            f"- One batch size ({settings.batch_size}) for every table, whatever batch size an "
            "assignment's notebook uses.",
            "- One sigmoid output with binary cross-entropy where a notebook uses a two-way "
            "softmax: the same classifier with one output vector fewer.",
            "- The validation split is shuffled (Keras' `validation_split` takes the last 20%, "
            "all positive reviews on IMDB).",
            f"- Compound scaling (table d) grows the small {SMALL['layers']} x LSTM("
            f"{SMALL['hidden']}), embedding {SMALL['embed']} rather than the LSTM(100) base, so "
            "its largest trials stay within the time budget; it runs on the Duke data.",
            f"- Tables c and d use early stopping (patience {patience}); the assignment trains a "
            "fixed number of epochs.",
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
    written = answers(by_table, best)
    if written:
        parts += [written]
    if everything:
        parts += [curves_section(out, everything), ""]
    path = out / "README.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
