"use strict";
/* What every explorer page shares: requests to the JSON API (plain and streamed), tables,
   SVG heatmaps whose cells carry their exact value (data-weight), and SVG line plots. */

const SVG_NS = "http://www.w3.org/2000/svg"; // the SVG namespace name; nothing is fetched
const KEY = "seqlab-api-key";

/* An HTML element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children.flat()) node.append(c instanceof Node ? c : String(c));
  return node;
}

/* An SVG element with attributes and children. */
function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children.flat()) node.append(c instanceof Node ? c : String(c));
  return node;
}

/* A number as R prints it (7 significant digits); "–" for a missing one. */
function fmt(v, digits = 7) {
  if (v === null || v === undefined) return "–";
  return Number.isInteger(v) ? String(v) : Number(v).toPrecision(digits);
}

const app = () => document.getElementById("app");
const query = (name) => new URLSearchParams(location.search).get(name);

/* A titled section appended to the page; returns its body element. */
function section(title, note) {
  const body = el("div");
  app().append(el("section", {}, el("h2", {}, title), note ? el("p", { class: "note" }, note) : "", body));
  return body;
}

/* Replace `where`'s content by an error message. */
function showError(where, err) {
  where.replaceChildren(el("div", { class: "error" }, err.message || String(err)));
}

function headers() {
  const h = { "content-type": "application/json" };
  const key = localStorage.getItem(KEY);
  if (key) h.authorization = "Bearer " + key;
  return h;
}

/* fetch `path` (GET, or POST of `body` as JSON); a 401 asks for the server's API key once. */
async function request(path, body, retried = false) {
  const init = body === undefined ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) };
  const response = await fetch(path, init);
  if (response.status === 401 && !retried) {
    const key = window.prompt("This server needs its API key:");
    if (key) {
      localStorage.setItem(KEY, key);
      return request(path, body, true);
    }
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.error ? data.error.message : `${path}: HTTP ${response.status}`);
  }
  return response;
}

/* The JSON answer of an API call; an Error with the server's message otherwise. */
async function api(path, body) {
  return (await request(path, body)).json();
}

/* POST `body` to a server-sent-event endpoint and call onEvent(data) per `data:` event, as it
   arrives (fetch + ReadableStream), until `data: [DONE]`. */
async function stream(path, body, onEvent) {
  const reader = (await request(path, body)).body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended before [DONE]");
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of chunk.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        const parsed = JSON.parse(data);
        if (parsed.error) throw new Error(parsed.error.message);
        onEvent(parsed);
      }
    }
  }
}

/* A table: a header row (none if null) and rows of cells (numbers formatted, right-aligned). */
function table(head, rows, attrs = {}) {
  const cell = (c, tag) => (typeof c === "number" || c === null)
    ? el(tag, { class: "num" }, fmt(c)) : el(tag, {}, c);
  return el("table", attrs,
    head ? el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))) : "",
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => cell(c, "td"))))));
}

/* A matrix (or a vector, as one row) as R prints it: row labels, columns [,1], [,2], … */
function matrixTable(values, rows, cols, attrs = {}) {
  const m = Array.isArray(values[0]) ? values : [values];
  rows = rows || m.map((_, i) => `[${i + 1},]`);
  cols = cols || m[0].map((_, j) => `[,${j + 1}]`);
  return el("table", { class: "matrix", ...attrs },
    el("thead", {}, el("tr", {}, el("th", {}, ""), cols.map((c) => el("th", {}, c)))),
    el("tbody", {}, m.map((r, i) => el("tr", {}, el("th", {}, rows[i]),
      r.map((v) => el("td", { "data-value": String(v) }, fmt(v)))))));
}

/* A matrix under its title. */
function titled(title, node) {
  return el("figure", {}, el("figcaption", {}, title), node);
}

/* Cell colour: white (lo) to blue (hi); for signed values red (-hi) to white (0) to blue (hi). */
function colour(v, lo, hi, signed) {
  const t = Math.max(-1, Math.min(1, signed ? v / hi : (v - lo) / (hi - lo || 1)));
  const [r, g, b] = signed && t < 0 ? [180, 35, 24] : [47, 91, 211];
  const a = Math.abs(t);
  const mix = (c) => Math.round(255 + (c - 255) * a);
  return [`rgb(${mix(r)},${mix(g)},${mix(b)})`, a > 0.55];
}

/* A heatmap of `values` (rows × cols) as SVG in a figure, labelled by the tokens. Every cell is
   a rect.cell with data-row, data-col and its exact value in data-weight; hovering it writes
   the value below the map. opts: caption, signed, numbers (write values in the cells),
   digits, min and max (the palest and darkest values; default the smallest and largest, or
   ± the largest magnitude when signed), attrs (on the svg). */
function heatmap(values, rows, cols, opts = {}) {
  const digits = opts.digits || 7;
  const w = opts.numbers ? 6.5 * (digits + 4) : (cols.length > 40 ? 12 : 22);
  const h = opts.numbers ? 24 : Math.min(22, Math.max(12, w));
  const longest = (labels) => Math.max(1, ...labels.map((s) => String(s).length));
  const left = 10 + 6.5 * longest(rows);
  const top = 12 + 4.6 * longest(cols);
  const flat = values.flat();
  const hi = opts.max ?? Math.max(1e-12, ...flat.map((v) => (opts.signed ? Math.abs(v) : v)));
  const lo = opts.min ?? Math.min(...flat);
  const svg = svgEl("svg", {
    width: left + w * cols.length + 4 * longest(cols) + 8, height: top + h * rows.length + 4,
    class: "heatmap", ...(opts.attrs || {}),
  });
  cols.forEach((c, j) => {
    const x = left + w * j + w / 2, y = top - 4;
    svg.append(svgEl("text", { x, y, transform: `rotate(-50 ${x} ${y})` }, c));
  });
  const readout = el("div", { class: "readout" }, "\u00a0");
  values.forEach((row, i) => {
    svg.append(svgEl("text", { x: left - 5, y: top + h * i + h / 2 + 4, "text-anchor": "end" }, rows[i]));
    row.forEach((v, j) => {
      const [fill, dark] = colour(v, lo, hi, opts.signed);
      const rect = svgEl("rect", {
        class: "cell", x: left + w * j, y: top + h * i, width: w - 1, height: h - 1, fill,
        "data-row": i, "data-col": j, "data-weight": String(v),
      }, svgEl("title", {}, `${rows[i]} → ${cols[j]}: ${fmt(v, digits)}`));
      rect.addEventListener("mouseenter", () => {
        readout.textContent = `${rows[i]} → ${cols[j]}: ${fmt(v, digits)}`;
      });
      svg.append(rect);
      if (opts.numbers) {
        svg.append(svgEl("text", {
          x: left + w * j + w / 2, y: top + h * i + h / 2 + 4, "text-anchor": "middle",
          "pointer-events": "none", style: dark ? "fill:#fff" : "",
        }, fmt(v, digits)));
      }
    });
  });
  return el("figure", {}, opts.caption ? el("figcaption", {}, opts.caption) : "", svg, readout);
}

/* Every head of every attention map of the contract ({module, layer, kind, heads, queries,
   keys, weights [H][T][S]}), one heatmap per head; map i's svgs carry data-map=i. */
function attentionMaps(maps) {
  return maps.map((m, i) => el("div", { class: "map" },
    el("h3", {}, `${m.kind} attention · layer ${m.layer} · ${m.module}`),
    el("div", { class: "grid" }, m.weights.map((w, head) => heatmap(w, m.queries, m.keys, {
      caption: `head ${head + 1} of ${m.heads} (rows: queries, columns: keys)`,
      attrs: { "data-map": i, "data-head": head, "data-module": m.module, "data-kind": m.kind },
    })))));
}

const PALETTE = ["#2f5bd3", "#d9480f", "#2b8a3e", "#862e9c", "#495057"];

/* Round tick values covering [lo, hi]. */
function ticks(lo, hi, count = 5) {
  const span = hi - lo || Math.abs(hi) || 1;
  const step0 = span / count, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

/* A line plot of series [{name, points: [[x, y]], dashed}] as SVG; points with y null are
   skipped. Each point is a circle.point with data-series, data-x and data-y. */
function linePlot(series, opts = {}) {
  const W = opts.width || 440, H = opts.height || 260, L = 56, R = 12, T = 14, B = 36;
  const pts = series.flatMap((s) => s.points.filter((p) => p[1] !== null));
  if (!pts.length) return el("p", { class: "note" }, `${opts.title}: no values`);
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  const pad = (y1 - y0) * 0.08 || Math.abs(y0) * 0.1 || 1;
  y0 -= pad; y1 += pad;
  const sx = (x) => L + (W - L - R) * (x - x0) / (x1 - x0);
  const sy = (y) => T + (H - T - B) * (1 - (y - y0) / (y1 - y0));
  const svg = svgEl("svg", { width: W, height: H, class: "plot", ...(opts.attrs || {}) });
  const axis = svgEl("g", { class: "axis" });
  axis.append(svgEl("path", { d: `M${L},${T}V${H - B}H${W - R}`, fill: "none" }));
  for (const t of ticks(y0, y1)) {
    axis.append(svgEl("line", { x1: L - 4, x2: L, y1: sy(t), y2: sy(t) }));
    axis.append(svgEl("text", { x: L - 6, y: sy(t) + 4, "text-anchor": "end" }, String(+t.toPrecision(6))));
  }
  for (const t of ticks(x0, x1).filter((t) => !opts.integerX || Number.isInteger(t))) {
    axis.append(svgEl("line", { x1: sx(t), x2: sx(t), y1: H - B, y2: H - B + 4 }));
    axis.append(svgEl("text", { x: sx(t), y: H - B + 16, "text-anchor": "middle" }, String(t)));
  }
  axis.append(svgEl("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, opts.xlabel || ""));
  svg.append(axis);
  series.forEach((s, k) => {
    const colourOf = PALETTE[k % PALETTE.length];
    const ok = s.points.filter((p) => p[1] !== null);
    svg.append(svgEl("polyline", {
      points: ok.map((p) => `${sx(p[0])},${sy(p[1])}`).join(" "), fill: "none",
      stroke: colourOf, "stroke-width": 2, "stroke-dasharray": s.dashed ? "5 4" : "none",
    }));
    if (!s.dashed) {
      for (const [x, y] of ok) {
        svg.append(svgEl("circle", {
          class: "point", cx: sx(x), cy: sy(y), r: 3, fill: colourOf,
          "data-series": s.name, "data-x": String(x), "data-y": String(y),
        }, svgEl("title", {}, `${s.name}, epoch ${x}: ${fmt(y)}`)));
      }
    }
    svg.append(svgEl("text", { x: W - R - 4, y: T + 12 + 14 * k, "text-anchor": "end", style: `fill:${colourOf}` }, s.name));
  });
  return el("figure", {}, el("figcaption", {}, opts.title || ""), svg);
}

/* The model kind helpers pages use to offer only the models they can show. */
const modelSection = (m) => (m.config && m.config.model) || {};
const RECURRENT = ["rnn", "lstm", "gru"];
function isTransformer(m) {
  const s = modelSection(m);
  return m.task === "finetune" || s.encoder === "transformer" || s.arch === "transformer";
}
function isRecurrent(m) {
  const s = modelSection(m);
  return RECURRENT.includes(s.encoder) || RECURRENT.includes(s.arch);
}
const can = (m, path) => m.capabilities.includes(path);

/* A <select> of the served models that `accepts`, preselecting ?model=NAME; appended to
   `where` with a label. Resolves to {select, models}; select is null when none fits. */
async function pickModel(where, accepts, what) {
  const { models } = await api("/v1/models");
  const fit = models.filter(accepts);
  if (!fit.length) {
    where.append(el("p", { class: "note" }, `This server holds no ${what}.`));
    return { select: null, models: fit };
  }
  const select = el("select", { id: "model" },
    fit.map((m) => el("option", { value: m.name }, `${m.name} (${m.task}, ${m.model_kind})`)));
  if (fit.some((m) => m.name === query("model"))) select.value = query("model");
  where.append(el("label", {}, "model", select));
  const chosen = () => fit.find((m) => m.name === select.value);
  return { select, models: fit, chosen };
}

/* A button that runs `action` (an async function), showing its errors in `out`. */
function runButton(label, out, action) {
  const button = el("button", { type: "button" }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      showError(out, err);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
