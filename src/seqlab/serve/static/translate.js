"use strict";
/* Translate: a served translator's beam candidates with their scores, and the attention of
   the chosen translation (POST /v1/translate with explain). */

async function main() {
  const where = section("Beam search", "The final beam, best first (score: log-probability " +
    "with the length penalty), then the attention maps of the chosen translation, read by " +
    "teacher forcing: rows are target tokens, columns source tokens.");
  const controls = el("div", { class: "controls" });
  where.append(controls);
  const pick = await pickModel(controls, (m) => can(m, "/v1/translate"), "translator");
  if (!pick.select) return;
  const text = el("input", { id: "text", class: "wide", value: query("text") || "Ein Mann sieht den Hund ." });
  const beam = el("input", { id: "beam", type: "number", min: 1, value: 4 });
  const penalty = el("input", { id: "length-penalty", type: "number", step: 0.1, placeholder: "as trained" });
  const out = el("div", { id: "translation" });
  const go = runButton("Translate", out, async () => {
    const body = { model: pick.select.value, texts: [text.value], explain: true };
    if (beam.value !== "") body.beam = parseInt(beam.value, 10);
    if (penalty.value !== "") body.length_penalty = parseFloat(penalty.value);
    const r = await api("/v1/translate", body);
    const ex = r.explain[0];
    const maps = ex.attention.filter((m) => m.kind === "cross");
    const others = ex.attention.filter((m) => m.kind !== "cross");
    out.replaceChildren(
      el("p", { class: "output", id: "chosen" }, r.translations[0]),
      el("p", { class: "note" }, `log-probability ${fmt(r.scores[0])}`, r.notes.map((n) => ` · ${n}`)),
      el("h3", {}, "Candidates"),
      table(["translation", "log-probability", "score"],
        ex.candidates.map((c) => [c.text, c.log_prob, c.score]), { id: "candidates" }),
      el("h3", {}, "Cross-attention of the chosen translation"),
      ...(maps.length ? attentionMaps(maps) : [el("p", { class: "note" }, "this model has no source-target attention")]),
    );
    if (others.length) {
      out.append(el("details", {}, el("summary", {}, "encoder and decoder self-attention"), ...attentionMaps(others)));
    }
  });
  controls.append(el("label", {}, "source text", text), el("label", {}, "beam", beam),
    el("label", {}, "length penalty", penalty), go);
  where.append(out);
}

main().catch((err) => showError(app(), err));
