"use strict";
/* Attention: the course's worked example (GET /v1/examples/attention), then a served
   Transformer's attention over a typed text (POST /v1/classify or /v1/generate, explain). */

async function courseExample() {
  const out = section("The course's example", "transformer_example (uuml): head 1 on the first " +
    "three tokens, then all heads on the nine. The numbers of `seqlab examples attention`.");
  let ex;
  try {
    ex = await api("/v1/examples/attention");
  } catch (err) {
    return showError(out, err);
  }
  const h = ex.head, t3 = h.tokens;
  out.append(
    titled("X: the embeddings of the nine tokens", matrixTable(ex.X, ex.tokens)),
    el("h3", {}, `Head 1 on “${t3.join(" ")}”`),
    el("div", { class: "grid" }, ["Q", "K", "V"].map((n) => titled(n, matrixTable(h[n], t3)))),
    titled("Q Kᵀ / √d_k", matrixTable(h.scores, t3, t3)),
    heatmap(h.weights, t3, t3, {
      numbers: true, caption: "attention = softmax(Q Kᵀ / √d_k): rows are queries",
      attrs: { id: "course-weights" },
    }),
    titled("Z = attention · V", matrixTable(h.Z, t3)),
    titled("multi-head self-attention of the first three tokens: [Z₁, …, Z_H] W₀",
      matrixTable(ex.first_three.output, t3)),
    el("h3", {}, "All heads on all nine tokens"),
    el("div", { class: "grid" }, ex.multi_head.weights.map((w, k) => heatmap(w, ex.tokens, ex.tokens, {
      caption: `head ${k + 1}`, attrs: { "data-course-head": k },
    }))),
    titled("the heads' outputs side by side, [Z₁, …, Z_H]", matrixTable(ex.multi_head.Z, ex.tokens)),
    titled("multi-head output [Z₁, …, Z_H] W₀", matrixTable(ex.multi_head.output, ex.tokens)),
  );
}

/* The explain part of a classify (or, for a language model, a one-word generate) answer. */
async function explainText(model, text) {
  if (can(model, "/v1/classify")) {
    const r = (await api("/v1/classify", { model: model.name, texts: [text], explain: true })).results[0];
    const probs = Object.entries(r.probabilities).map(([k, p]) => [k, p]);
    return { explain: r.explain, summary: table(["class", "probability"], probs, { id: "probabilities" }) };
  }
  const r = await api("/v1/generate", { model: model.name, prompt: text, max_words: 1, seed: 0, explain: true });
  return { explain: r.explain, summary: el("p", {}, `continued as “${r.text}” (one word drawn)`) };
}

async function modelPart() {
  const where = section("A served model", "Each layer's and head's attention weights over the " +
    "tokens of the text, white for a map's smallest weight to blue for its largest. Hover a " +
    "cell for its weight.");
  const controls = el("div", { class: "controls" });
  where.append(controls);
  const pick = await pickModel(controls,
    (m) => isTransformer(m) && (can(m, "/v1/classify") || can(m, "/v1/generate")), "Transformer classifier or language model");
  if (!pick.select) return;
  const text = el("input", { id: "text", class: "wide", value: query("text") || "the movie was good fun" });
  const out = el("div", { id: "model-maps" });
  controls.append(el("label", {}, "text", text), runButton("Show attention", out, async () => {
    const { explain, summary } = await explainText(pick.chosen(), text.value);
    out.replaceChildren(summary, el("p", { class: "note" }, `tokens: ${explain.tokens.join(" · ")}`),
      ...attentionMaps(explain.attention));
    if (!explain.attention.length) out.append(el("p", { class: "note" }, "this model has no attention"));
  }));
  where.append(out);
}

courseExample().then(modelPart).catch((err) => showError(app(), err));
