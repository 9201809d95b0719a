"use strict";
/* Recurrent: the course's RNN example step by step (GET /v1/examples/rnn), then a served
   RNN/LSTM/GRU's hidden state per token (and its gates) over a typed text. */

async function courseExample() {
  const out = section("The course's example", "rnn_example (uuml): h_t = tanh(b + W h_{t-1} + " +
    "U x_t) and ŷ_t = softmax(c + V h_t) from h_0 = 0. The numbers of `seqlab examples rnn`.");
  let ex;
  try {
    ex = await api("/v1/examples/rnn");
  } catch (err) {
    return showError(out, err);
  }
  const p = ex.params, f = ex.first, first = [f.token];
  out.append(
    titled("X: the embeddings of the nine tokens", matrixTable(ex.X, ex.tokens)),
    el("div", { class: "grid" },
      titled("W (hidden to hidden)", matrixTable(p.W)), titled("U (input to hidden)", matrixTable(p.U)),
      titled("V (hidden to output)", matrixTable(p.V)), titled("b", matrixTable(p.b)),
      titled("c", matrixTable(p.c))),
    el("h3", {}, `The first step, “${f.token}”`),
    titled("a_t = b + W h_{t-1} + U x_t", matrixTable(f.a, first)),
    titled("h_t = tanh(a_t)", matrixTable(f.h, first)),
    titled("ŷ_t = softmax(c + V h_t)", matrixTable(f.y_hat, first)),
    el("h3", {}, "The layer over all tokens"),
    el("div", { class: "grid" },
      heatmap(ex.h, ex.tokens, ex.h[0].map((_, j) => `h${j + 1}`), {
        signed: true, numbers: true, digits: 4, max: 1, caption: "h_t per token", attrs: { id: "course-hidden" },
      }),
      heatmap(ex.y_hat, ex.tokens, ex.y_hat[0].map((_, j) => `ŷ${j + 1}`), {
        numbers: true, digits: 4, min: 0, max: 1, caption: "ŷ_t per token",
      })),
    titled("rnn_layer: h, all tokens", matrixTable(ex.h, ex.tokens)),
  );
}

/* One recurrent trace of the contract: hidden state per token, then the gates. */
function trace(t, i) {
  const units = (m) => m[0].map((_, j) => String(j + 1));
  const maps = [heatmap(t.hidden, t.tokens, units(t.hidden), {
    signed: true, max: 1, caption: "hidden state h_t (rows: tokens, columns: units)",
    attrs: { "data-trace": i, "data-part": "hidden" },
  })];
  for (const [name, m] of Object.entries(t.gates || {})) {
    maps.push(heatmap(m, t.tokens, units(m), {
      signed: name === "candidate", min: 0, max: 1, caption: `${name} gate`,
      attrs: { "data-trace": i, "data-part": name },
    }));
  }
  return el("div", { class: "trace" },
    el("h3", {}, `${t.cell.toUpperCase()} · layer ${t.layer} · ${t.direction} · ${t.module}`),
    el("div", { class: "grid" }, maps));
}

async function modelPart() {
  const where = section("A served model", "The hidden state after each token of the text " +
    "(red negative, blue positive) and, for an LSTM or GRU, its gates.");
  const controls = el("div", { class: "controls" });
  where.append(controls);
  const pick = await pickModel(controls,
    (m) => isRecurrent(m) && (can(m, "/v1/classify") || can(m, "/v1/generate")), "RNN, LSTM or GRU model");
  if (!pick.select) return;
  const text = el("input", { id: "text", class: "wide", value: query("text") || "the cat sees the ball" });
  const out = el("div", { id: "model-traces" });
  controls.append(el("label", {}, "text", text), runButton("Show states", out, async () => {
    const model = pick.chosen();
    const explain = can(model, "/v1/classify")
      ? (await api("/v1/classify", { model: model.name, texts: [text.value], explain: true })).results[0].explain
      : (await api("/v1/generate", { model: model.name, prompt: text.value, max_words: 1, seed: 0, explain: true })).explain;
    out.replaceChildren(...explain.recurrent.map(trace));
    if (!explain.recurrent.length) out.append(el("p", { class: "note" }, "this model has no recurrent layer"));
  }));
  where.append(out);
}

courseExample().then(modelPart).catch((err) => showError(app(), err));
