"use strict";
/* Run: a finished training run - learning curves, test metrics, per-class report, confusion
   matrix. Served, it reads GET /v1/models/{name}/run; in a `seqlab report` file the run is
   embedded as window.SEQLAB_DATA. */

/* One plot per metric recorded as train_X / valid_X, with the test value dashed. */
function curves(run) {
  const metrics = [];
  for (const record of run.history) {
    for (const key of Object.keys(record)) {
      const m = key.match(/^(train|valid)_(.+)$/);
      if (m && !metrics.includes(m[2])) metrics.push(m[2]);
    }
  }
  const epochs = run.history.map((r) => r.epoch);
  return metrics.map((metric) => {
    const series = ["train", "valid"]
      .filter((split) => run.history.some((r) => (r[`${split}_${metric}`] ?? null) !== null))
      .map((split) => ({ name: split, points: run.history.map((r) => [r.epoch, r[`${split}_${metric}`] ?? null]) }));
    const test = run.test && run.test[metric];
    if (typeof test === "number" && epochs.length) {
      series.push({ name: `test ${fmt(test, 4)}`, dashed: true,
        points: [[Math.min(...epochs), test], [Math.max(...epochs), test]] });
    }
    return linePlot(series, { title: metric, xlabel: "epoch", integerX: true, attrs: { "data-metric": metric } });
  });
}

function render(run, where) {
  const facts = [["task", run.task ?? "–"], ["parameters", run.params], ["training time (s)", run.train_wall_s],
    ["epochs", run.history.length]];
  where.replaceChildren(
    el("h2", {}, `Run ${run.name}`),
    table(null, facts, { id: "facts" }),
    el("h3", {}, "Test metrics"),
    run.test ? table(["metric", "value"], Object.entries(run.test).filter(([, v]) => typeof v !== "object" || v === null), { id: "metrics" })
      : el("p", { class: "note" }, "no test pass was recorded"),
    el("h3", {}, "Learning curves"),
    el("div", { class: "grid", id: "curves" }, curves(run)),
  );
  if (run.classes) {
    const keys = ["support", "accuracy", "precision", "recall", "f1"];
    where.append(el("h3", {}, "Per class"),
      table(["class", ...keys], run.classes.map((r) => [r.class, ...keys.map((k) => r[k])]), { id: "classes" }));
  }
  if (run.confusion) {
    const names = run.label_names || run.confusion.map((_, i) => String(i));
    where.append(el("h3", {}, "Confusion matrix"), heatmap(run.confusion, names, names, {
      numbers: true, digits: 3, min: 0, caption: "rows: true class, columns: predicted", attrs: { id: "confusion" },
    }));
  }
  const head = Object.keys(run.history[0] || {});
  where.append(el("details", {}, el("summary", {}, "every epoch"),
    table(head, run.history.map((r) => head.map((k) => r[k] ?? null)), { id: "history" })));
  if (run.config) {
    where.append(el("details", {}, el("summary", {}, "configuration"),
      el("pre", {}, JSON.stringify(run.config, null, 1))));
  }
}

async function main() {
  if (window.SEQLAB_DATA) return render(window.SEQLAB_DATA, app());
  const controls = el("div", { class: "controls" });
  const out = el("div", { id: "run" });
  app().append(controls, out);
  const pick = await pickModel(controls, () => true, "models");
  if (!pick.select) return;
  const show = async () => {
    try {
      render(await api(`/v1/models/${encodeURIComponent(pick.select.value)}/run`), out);
    } catch (err) {
      showError(out, err);
    }
  };
  pick.select.addEventListener("change", show);
  await show();
}

main().catch((err) => showError(app(), err));
