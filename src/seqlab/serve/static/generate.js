"use strict";
/* Generate: a language model's continuation streamed word by word (POST /v1/generate with
   stream and explain, read as server-sent events), with the top-10 next words of each step. */

/* Was the word drawn (a prompt's words come with no distribution: "top" empty or absent)? */
const drawn = (step) => Boolean(step.top && step.top.length);

/* The distribution a word was drawn from, as bars. */
function topTable(step) {
  if (!drawn(step)) return el("p", { class: "note" }, `“${step.word}” is from the prompt`);
  const best = step.top[0] ? step.top[0].probability : 1;
  return table(["next word", "probability", ""], step.top.map((t) => [t.word, t.probability,
    el("span", { class: "bar", style: `width:${Math.round(160 * t.probability / best)}px` })]),
  { id: "top" });
}

async function main() {
  const where = section("Sampling word by word", "Each word appears as the server draws it. " +
    "Click a word to see the ten most likely next words of the step that drew it, after " +
    "temperature, top-k and top-p.");
  const controls = el("div", { class: "controls" });
  where.append(controls);
  const pick = await pickModel(controls, (m) => can(m, "/v1/generate"), "language model");
  if (!pick.select) return;
  const input = (id, attrs) => el("input", { id, ...attrs });
  const prompt = input("prompt", { class: "wide", value: query("prompt") || "where is the" });
  const fields = {
    max_words: input("max-words", { type: "number", min: 1, value: 12 }),
    temperature: input("temperature", { type: "number", min: 0, step: 0.1, value: 1 }),
    top_k: input("top-k", { type: "number", min: 1, placeholder: "all" }),
    top_p: input("top-p", { type: "number", min: 0.01, max: 1, step: 0.05, placeholder: "1" }),
    seed: input("seed", { type: "number", min: 0, placeholder: "random" }),
  };
  const output = el("div", { class: "output", id: "output" });
  const detail = el("div", { id: "step" });
  const status = el("p", { class: "note", id: "status" });
  const select = (span, step) => {
    output.querySelectorAll(".selected").forEach((s) => s.classList.remove("selected"));
    span.classList.add("selected");
    detail.replaceChildren(el("h3", {}, `“${step.word}”`), topTable(step));
  };
  const go = runButton("Generate", status, async () => {
    output.replaceChildren();
    detail.replaceChildren();
    status.textContent = "drawing…";
    const body = { model: pick.select.value, prompt: prompt.value, stream: true, explain: true };
    for (const [name, field] of Object.entries(fields)) {
      if (field.value !== "") body[name] = name === "temperature" || name === "top_p"
        ? parseFloat(field.value) : parseInt(field.value, 10);
    }
    let count = 0, drawnCount = 0;
    await stream("/v1/generate", body, (step) => {
      const span = el("span", { class: drawn(step) ? "word" : "word prompt", "data-index": count++ }, step.word);
      span.addEventListener("click", () => select(span, step));
      output.append(span, " ");
      if (drawn(step)) {
        drawnCount += 1;
        select(span, step);
      }
    });
    status.textContent = `${count} words, ${drawnCount} drawn`;
  });
  controls.append(el("label", {}, "prompt", prompt),
    ...Object.entries(fields).map(([name, f]) => el("label", {}, name.replace("_", "-"), f)), go);
  where.append(output, status, detail);
}

main().catch((err) => showError(app(), err));
