// The plan as an SVG Gantt: one row per scheduling resource, time across (UTC, as the plant calendar),
// lots coloured by model (the viewer's colour-blind-safe palette; a legend and a tooltip name the model), the
// shift windows shaded, the frozen window hatched, "now" as a line. A proposal can carry diff marks
// (added / moved / other resource / resized: a glyph and an outline, not colour alone) and ghosts (dashed
// outlines where a lot was, hatched where a lot was removed). Built with svg() only: names are text.

import { el, svg, clear } from "./dom.js";

/** Model colours (Okabe & Ito 2008, as twin/palette.py): assigned in the plant file's model order. */
export const MODEL_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
const UNKNOWN_COLOUR = "#8C8C8C";
const MARK_GLYPH = { added: "+", moved: "→", reassigned: "⇄", resized: "±" };
const MARK_TEXT = { added: "added", moved: "moved in time", reassigned: "moved to another resource", resized: "resized" };
let patternSeq = 0;

/**
 * {id -> {name, colour}} for the plant's models (and any extra ids met in plans, in order). `viewer` is the
 * 3D view's model palette (`GET /layout` palette.models: [{id, hex}]); it is used when it gives every model
 * a colour of its own, so a model looks the same in the Gantt and on the cars in 3D. Otherwise the eight
 * Okabe-Ito colours.
 */
export function modelColours(models, extraIds = [], viewer = null) {
  const out = new Map();
  const fromViewer = new Map((viewer || []).map((m) => [m.id, m.hex]));
  const ids = [...new Set([...models.map((m) => m.id), ...extraIds])];
  const distinct = new Set(ids.map((id) => fromViewer.get(id)));
  const useViewer = ids.length > 0 && ids.every((id) => fromViewer.has(id)) && distinct.size === ids.length;
  const add = (id, name) => {
    if (out.has(id)) return;
    const colour = useViewer ? fromViewer.get(id) : MODEL_COLOURS[out.size % MODEL_COLOURS.length];
    out.set(id, { name: name || id, colour });
  };
  for (const m of models) add(m.id, m.name);
  for (const id of extraIds) add(id, id);
  return out;
}

/** Black or white text, whichever reads better on `hex`. */
export function textOn(hex) {
  const n = parseInt(hex.slice(1), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.25 ? "#000" : "#fff";
}

/** A plan's lots in epoch seconds: [{lot, model, resource, quantity, start, end}]. */
export function planLots(plan) {
  const origin = planOrigin(plan);
  return (plan.assignments || []).map((a, i) => ({
    lot: a.lot || `lot-${i}`,
    model: a.model,
    resource: a.resource,
    quantity: a.quantity,
    start: origin + a.start_s,
    end: origin + a.end_s,
  }));
}

/** The epoch time of a plan's t=0 (meta.origin, else its creation time). */
export function planOrigin(plan) {
  const o = plan.meta && plan.meta.origin;
  return typeof o === "number" ? o : plan.created_at || 0;
}

/** The frozen window of a plan as epoch [start, end] (when it was made: meta.now_s .. + freeze_s), or null. */
export function frozenWindow(plan) {
  const m = plan.meta || {};
  if (typeof m.freeze_s !== "number") return null;
  const at = planOrigin(plan) + (typeof m.now_s === "number" ? m.now_s : 0);
  return { start: at, end: at + m.freeze_s };
}

/** The time range a plan covers: origin (or its frozen window, if earlier) .. origin + horizon (or its
 * last lot). */
export function planRange(plan) {
  const origin = planOrigin(plan);
  const horizon = (plan.meta && plan.meta.horizon_s) || 0;
  const last = Math.max(origin, ...planLots(plan).map((l) => l.end));
  const frozen = frozenWindow(plan);
  return { start: Math.min(origin, frozen ? frozen.start : origin), end: Math.max(origin + horizon, last) };
}

function remPx(node) {
  return parseFloat(getComputedStyle(node).fontSize) || 16;
}

function utcLabel(ts, withDay) {
  const d = new Date(ts * 1000);
  const hm = `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
  return withDay ? `${d.getUTCDate()}.${d.getUTCMonth() + 1}. ${hm}` : hm;
}

function tickStep(spanS, widthPx, minPx) {
  for (const h of [0.25, 0.5, 1, 2, 3, 4, 6, 12, 24, 48]) {
    if ((h * 3600 * widthPx) / spanS >= minPx) return h * 3600;
  }
  return 96 * 3600;
}

function defs(id) {
  return svg(
    "defs",
    null,
    svg(
      "pattern",
      { id: `${id}-frozen`, width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      svg("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#555", "stroke-width": 2, "stroke-opacity": 0.35 }),
    ),
    svg(
      "pattern",
      { id: `${id}-removed`, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(-45)" },
      svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#222", "stroke-width": 1.5 }),
    ),
  );
}

function lotTitle(l, models, extra) {
  const m = models.get(l.model);
  const name = m && m.name !== l.model ? `${m.name} (${l.model})` : l.model;
  return `${l.lot}: ${l.quantity} × ${name} on ${l.resource}, ${utcLabel(l.start, true)}–${utcLabel(l.end)} UTC${extra || ""}`;
}

class Gantt {
  constructor(container, opts) {
    this.container = container;
    this.opts = opts;
    this.id = `g${++patternSeq}`;
    this.figure = el("figure", { class: "gantt" });
    this.svgHost = el("div", { class: "gantt-svg" });
    this.figure.append(this.svgHost);
    if (opts.caption) this.figure.append(el("figcaption", { class: "sr-only" }, opts.caption));
    container.append(this.figure);
    this._frame = 0;
    this._width = 0;
    this.observer = new ResizeObserver(() => this._schedule());
    this.observer.observe(this.svgHost);
    this.render();
  }

  update(opts) {
    this.opts = { ...this.opts, ...opts };
    this.render();
  }

  destroy() {
    this.observer.disconnect();
    cancelAnimationFrame(this._frame);
    this.figure.remove();
  }

  _schedule() {
    const w = this.svgHost.clientWidth;
    if (Math.abs(w - this._width) < 4) return;
    cancelAnimationFrame(this._frame);
    this._frame = requestAnimationFrame(() => this.render());
  }

  render() {
    const o = this.opts;
    const rem = remPx(this.svgHost);
    const width = Math.max(28 * rem, this.svgHost.clientWidth || 60 * rem);
    this._width = width;
    const labelW = Math.min(12 * rem, width * 0.22);
    const rowH = 2 * rem;
    const axisH = 2.8 * rem;
    const rows = o.rows;
    const height = axisH + rows.length * rowH + 0.4 * rem;
    const { start, end } = o.range;
    const span = Math.max(1, end - start);
    const plotW = width - labelW - 0.5 * rem;
    const x = (t) => labelW + ((Math.min(Math.max(t, start), end) - start) / span) * plotW;
    const rowIndex = new Map(rows.map((r, i) => [r.id, i]));
    const y = (res) => axisH + (rowIndex.has(res) ? rowIndex.get(res) : rows.length - 1) * rowH;
    const root = svg("svg", {
      class: "gantt-chart",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": o.label || "plan Gantt chart",
    });
    root.append(defs(this.id));
    this._shifts(root, o, x, axisH, height, rem);
    this._rows(root, rows, labelW, width, axisH, rowH, rem);
    this._axis(root, o, x, start, end, plotW, axisH, height, rem);
    this._frozen(root, o, x, axisH, height, rem);
    for (const g of o.ghosts || []) this._ghost(root, g, x, y, rowH, rem);
    for (const l of o.lots) this._lot(root, l, x, y, rowH, rem);
    this._now(root, o, x, start, end, axisH, height, rem);
    clear(this.svgHost).append(root);
  }

  _shifts(root, o, x, axisH, height, rem) {
    (o.windows || []).forEach((w, i) => {
      if (w.end <= o.range.start || w.start >= o.range.end) return;
      const x0 = x(w.start);
      const x1 = x(w.end);
      root.append(
        svg("rect", { class: `shift shift-${i % 2}`, x: x0, y: 0, width: Math.max(0, x1 - x0), height }),
        svg("text", { class: "shift-name", x: x0 + 0.3 * rem, y: 0.95 * rem }, w.shift || "shift"),
      );
    });
  }

  _rows(root, rows, labelW, width, axisH, rowH, rem) {
    rows.forEach((r, i) => {
      const y0 = axisH + i * rowH;
      root.append(svg("line", { class: "row-line", x1: 0, x2: width, y1: y0 + rowH, y2: y0 + rowH }));
      const label = svg("text", { class: "row-label", x: 0.3 * rem, y: y0 + rowH * 0.62 }, r.id);
      const room = Math.floor((labelW - 0.8 * rem) / (0.5 * rem)) - r.id.length - 1;
      if (r.name && room > 2) {
        const name = r.name.length > room ? r.name.slice(0, room - 1) + "…" : r.name;
        label.append(svg("tspan", { class: "row-sub", dx: 0.4 * rem }, name));
      }
      label.append(svg("title", null, r.name ? `${r.id}: ${r.name}` : r.id));
      root.append(label);
    });
  }

  _axis(root, o, x, start, end, plotW, axisH, height, rem) {
    const step = tickStep(end - start, plotW, 4.5 * rem);
    let t = Math.ceil(start / step) * step;
    let lastDay = null;
    for (; t <= end; t += step) {
      const day = Math.floor(t / 86400);
      root.append(
        svg("line", { class: "tick", x1: x(t), x2: x(t), y1: 1.3 * rem, y2: height }),
        svg("text", { class: "tick-label", x: x(t) + 0.2 * rem, y: 2.25 * rem }, utcLabel(t, day !== lastDay)),
      );
      lastDay = day;
    }
    root.append(svg("text", { class: "axis-unit", x: 0.3 * rem, y: 2.25 * rem }, "UTC"));
    root.append(svg("line", { class: "axis", x1: 0, x2: x(end), y1: axisH, y2: axisH }));
  }

  _frozen(root, o, x, axisH, height, rem) {
    const f = o.frozen;
    if (!f || f.end <= o.range.start || f.start >= o.range.end) return;
    const x0 = x(f.start);
    const w = Math.max(2, x(f.end) - x0);
    root.append(
      svg(
        "rect",
        { class: "frozen", x: x0, y: axisH, width: w, height: height - axisH, fill: `url(#${this.id}-frozen)` },
        svg("title", null, `frozen window: ${utcLabel(f.start, true)}–${utcLabel(f.end)} UTC (lots here stay put)`),
      ),
      svg("text", { class: "frozen-label", x: x0 - 0.15 * rem, y: 0.95 * rem, "text-anchor": "end" }, "frozen ▸"),
    );
  }

  _now(root, o, x, start, end, axisH, height, rem) {
    if (!o.now || o.now < start || o.now > end) return;
    root.append(
      svg("line", { class: "now", x1: x(o.now), x2: x(o.now), y1: axisH - 0.3 * rem, y2: height }),
      svg("text", { class: "now-label", x: x(o.now) + 0.2 * rem, y: axisH - 0.35 * rem }, "now"),
    );
  }

  _lot(root, l, x, y, rowH, rem) {
    const o = this.opts;
    const m = o.models.get(l.model);
    const colour = m ? m.colour : UNKNOWN_COLOUR;
    const mark = o.marks ? o.marks.get(l.lot) : null;
    const x0 = x(l.start);
    const w = Math.max(2, x(l.end) - x0);
    const y0 = y(l.resource) + 0.25 * rem;
    const h = rowH - 0.5 * rem;
    const frozen = o.frozenLots && o.frozenLots.has(l.lot);
    const g = svg("g", {
      class: ["lot", mark && `mark-${mark.kind}`, frozen && "lot-frozen"],
      dataset: { lot: l.lot, model: l.model, resource: l.resource, mark: mark ? mark.kind : "" },
    });
    g.append(svg("rect", { x: x0, y: y0, width: w, height: h, rx: 2, fill: colour }));
    const glyph = mark ? MARK_GLYPH[mark.kind] : "";
    const text = `${glyph ? glyph + " " : ""}${l.quantity}`;
    if (w > text.length * 0.6 * rem + 0.4 * rem) {
      g.append(svg("text", { class: "lot-label", x: x0 + 0.25 * rem, y: y0 + h * 0.7, fill: textOn(colour) }, text));
    } else if (glyph) {
      g.append(svg("text", { class: "lot-glyph", x: x0, y: y0 - 0.05 * rem }, glyph));
    }
    const extra = (mark ? `; ${MARK_TEXT[mark.kind]}${mark.detail ? " " + mark.detail : ""}` : "") + (frozen ? "; frozen" : "");
    g.append(svg("title", null, lotTitle(l, o.models, extra)));
    root.append(g);
  }

  _ghost(root, gh, x, y, rowH, rem) {
    const x0 = x(gh.start);
    const w = Math.max(2, x(gh.end) - x0);
    const y0 = y(gh.resource) + 0.25 * rem;
    const removed = gh.kind === "removed";
    const g = svg("g", { class: ["ghost", `ghost-${gh.kind}`], dataset: { lot: gh.lot, ghost: gh.kind } });
    g.append(
      svg("rect", {
        x: x0,
        y: y0,
        width: w,
        height: rowH - 0.5 * rem,
        rx: 2,
        fill: removed ? `url(#${this.id}-removed)` : "none",
      }),
    );
    if (removed && w > 1.2 * rem) g.append(svg("text", { class: "ghost-label", x: x0 + 0.25 * rem, y: y0 + rowH * 0.5 }, "−"));
    const what = removed ? "removed" : "was here";
    g.append(svg("title", null, lotTitle(gh, this.opts.models, `; ${what}`)));
    root.append(g);
  }
}

/**
 * Draw a Gantt into `container`; returns {update(opts), destroy()}.
 * opts: rows [{id, name}], lots (planLots), models (modelColours), range {start, end} (epoch s), windows
 * [{shift, start, end}], frozen {start, end} | null, frozenLots Set, now, marks Map(lot -> {kind, detail}),
 * ghosts [{lot, model, resource, quantity, start, end, kind: "removed" | "was"}], label, caption.
 */
export function drawGantt(container, opts) {
  return new Gantt(container, opts);
}

/** The legend of a Gantt: models (swatch + name) and what the marks mean. */
export function ganttLegend(models, { diff = false } = {}) {
  const items = [];
  for (const [id, m] of models) {
    items.push(
      el(
        "li",
        { dataset: { model: id } },
        el("span", { class: "swatch", style: { backgroundColor: m.colour }, "aria-hidden": "true" }),
        m.name !== id ? `${m.name} (${id})` : id,
      ),
    );
  }
  const keys = [
    el("li", null, el("span", { class: "swatch swatch-shift", "aria-hidden": "true" }), "shift (working time)"),
    el("li", null, el("span", { class: "swatch swatch-frozen", "aria-hidden": "true" }), "frozen window"),
  ];
  if (diff) {
    keys.push(
      el("li", null, el("b", { class: "glyph" }, "+"), " added"),
      el("li", null, el("b", { class: "glyph" }, "→"), " moved in time"),
      el("li", null, el("b", { class: "glyph" }, "⇄"), " moved to another resource"),
      el("li", null, el("b", { class: "glyph" }, "±"), " resized"),
      el("li", null, el("span", { class: "swatch swatch-was", "aria-hidden": "true" }), "where a lot was"),
      el("li", null, el("span", { class: "swatch swatch-removed", "aria-hidden": "true" }), "removed lot"),
    );
  }
  return el(
    "div",
    { class: "gantt-legend" },
    el("ul", { class: "legend-models", "aria-label": "models" }, items),
    el("ul", { class: "legend-keys", "aria-label": "marks" }, keys),
  );
}

/** The lots as a table (keyboard and screen-reader access to what the Gantt draws). */
export function lotsTable(lots, models, marks) {
  const rows = [...lots]
    .sort((a, b) => a.start - b.start || a.resource.localeCompare(b.resource))
    .map((l) => {
      const m = models.get(l.model);
      const mark = marks ? marks.get(l.lot) : null;
      return el(
        "tr",
        { dataset: { lot: l.lot } },
        el("td", null, l.lot),
        el("td", null, m ? m.name : l.model),
        el("td", null, l.resource),
        el("td", { class: "num" }, String(l.quantity)),
        el("td", null, utcLabel(l.start, true)),
        el("td", null, utcLabel(l.end, true)),
        marks ? el("td", null, mark ? MARK_TEXT[mark.kind] : "") : null,
      );
    });
  return el(
    "table",
    { class: "data lots" },
    el(
      "thead",
      null,
      el(
        "tr",
        null,
        ["Lot", "Model", "Resource", "Cars", "Start (UTC)", "End (UTC)"].map((h) => el("th", { scope: "col" }, h)),
        marks ? el("th", { scope: "col" }, "Change") : null,
      ),
    ),
    el("tbody", null, rows),
  );
}

export { utcLabel };
