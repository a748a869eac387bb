// Small SVG charts without a library: horizontal bars (with a target tick), groups of bars, one stacked
// bar, lines over time. Every value is also written as text next to its mark, and every chart has an
// aria-label, so nothing is told by colour alone. Built with svg()/el() only: labels are text nodes.

import { el, svg } from "./dom.js";

/** Colours of chart series (Okabe-Ito, as the rest of the console). */
export const SERIES = { blue: "#0072B2", orange: "#E69F00", green: "#009E73", purple: "#CC79A7", sky: "#56B4E9", vermillion: "#D55E00", grey: "#8C8C8C", black: "#333333" };

function rem() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

function frame(w, h, label, cls) {
  return svg("svg", {
    class: ["chart", cls],
    viewBox: `0 0 ${w} ${h}`,
    width: "100%",
    preserveAspectRatio: "xMinYMin meet",
    role: "img",
    "aria-label": label,
  });
}

function fmt(v, format) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return format ? format(v) : String(Math.round(v * 10) / 10);
}

/**
 * Horizontal bars: items [{label, value, target?, colour?, text?}]; opts {label, max, format, unit}.
 * A target is a black tick across the bar with its value after the bar's ("412 / 450").
 */
export function hbars(items, opts = {}) {
  const r = rem();
  const labelW = opts.labelWidth || 9 * r;
  const valueW = 7 * r;
  const w = 34 * r;
  const barH = 1.15 * r;
  const gap = 0.55 * r;
  const h = Math.max(1, items.length) * (barH + gap) + gap;
  const max =
    opts.max || Math.max(1e-9, ...items.map((i) => Math.max(i.value || 0, i.target || 0)));
  const plotW = w - labelW - valueW;
  const root = frame(w, h, opts.label || "bar chart", "hbars");
  items.forEach((it, i) => {
    const y = gap + i * (barH + gap);
    const v = it.value === null || it.value === undefined ? null : it.value;
    const bw = v === null ? 0 : Math.max(v > 0 ? 1 : 0, (Math.min(v, max) / max) * plotW);
    const g = svg("g", { class: "bar", dataset: { label: it.label } });
    g.append(svg("text", { class: "bar-label", x: 0, y: y + barH * 0.8 }, it.label));
    g.append(svg("rect", { class: "bar-track", x: labelW, y, width: plotW, height: barH }));
    g.append(svg("rect", { x: labelW, y, width: bw, height: barH, fill: it.colour || SERIES.blue }));
    if (typeof it.target === "number") {
      const tx = labelW + (Math.min(it.target, max) / max) * plotW;
      g.append(svg("line", { class: "target", x1: tx, x2: tx, y1: y - 0.2 * r, y2: y + barH + 0.2 * r }));
    }
    const text =
      it.text ||
      (typeof it.target === "number"
        ? `${fmt(v, opts.format)} / ${fmt(it.target, opts.format)}`
        : `${fmt(v, opts.format)}${opts.unit ? " " + opts.unit : ""}`);
    g.append(svg("text", { class: "bar-value", x: labelW + plotW + 0.4 * r, y: y + barH * 0.8 }, text));
    g.append(svg("title", null, `${it.label}: ${text}`));
    root.append(g);
  });
  return root;
}

/**
 * Groups of horizontal bars sharing one scale: groups [{label, bars: [{label, value, colour}]}];
 * opts {label, max, format}. Used for OEE and its three factors per line.
 */
export function barGroups(groups, opts = {}) {
  const r = rem();
  const w = 34 * r;
  const labelW = 9 * r;
  const valueW = 4.5 * r;
  const barH = 0.95 * r;
  const head = 1.4 * r;
  const plotW = w - labelW - valueW;
  const max = opts.max || 1;
  let h = 0.3 * r;
  for (const g of groups) h += head + g.bars.length * (barH + 0.25 * r) + 0.4 * r;
  const root = frame(w, h, opts.label || "grouped bar chart", "bar-groups");
  let y = 0.3 * r;
  for (const grp of groups) {
    const g = svg("g", { class: "group", dataset: { label: grp.label } });
    g.append(svg("text", { class: "group-label", x: 0, y: y + r }, grp.label));
    y += head;
    for (const b of grp.bars) {
      const v = b.value;
      const bw = v === null || v === undefined ? 0 : (Math.max(0, Math.min(v, max)) / max) * plotW;
      const text = fmt(v, opts.format);
      g.append(
        svg("text", { class: "bar-label", x: 0.8 * r, y: y + barH * 0.85 }, b.label),
        svg("rect", { class: "bar-track", x: labelW, y, width: plotW, height: barH }),
        svg("rect", { x: labelW, y, width: bw, height: barH, fill: b.colour || SERIES.blue }, svg("title", null, `${grp.label} ${b.label}: ${text}`)),
        svg("text", { class: "bar-value", x: labelW + plotW + 0.4 * r, y: y + barH * 0.85 }, text),
      );
      y += barH + 0.25 * r;
    }
    y += 0.4 * r;
    root.append(g);
  }
  return root;
}

/** One stacked bar with a legend underneath: parts [{label, value, colour}]; opts {label}. */
export function stackBar(parts, opts = {}) {
  const total = parts.reduce((s, p) => s + (p.value || 0), 0);
  const bar = el("div", { class: "stack-bar", role: "img", "aria-label": opts.label || "stacked bar" });
  const legend = el("ul", { class: "stack-legend" });
  for (const p of parts) {
    if (p.value > 0) {
      bar.append(
        el("span", {
          class: "stack-part",
          style: { flexGrow: String(p.value), backgroundColor: p.colour },
          title: `${p.label}: ${p.value}`,
        }),
      );
    }
    legend.append(
      el("li", null, el("span", { class: "swatch", style: { backgroundColor: p.colour }, "aria-hidden": "true" }), `${p.label} ${p.value}`),
    );
  }
  if (!total) bar.append(el("span", { class: "stack-empty" }, "no data"));
  return el("div", { class: "stack" }, bar, legend);
}

/**
 * Lines over time: series [{name, colour, points: [[t, v]], dash?}]; opts {label, yMin, yMax, format,
 * xFormat(t)}. Each line ends in a dot labelled with its last value; a legend names the series.
 */
export function lineChart(series, opts = {}) {
  const r = rem();
  const w = 34 * r;
  const h = 12 * r;
  const left = 3.5 * r;
  const right = 5 * r;
  const top = 0.8 * r;
  const bottom = 1.8 * r;
  const pts = series.flatMap((s) => s.points);
  const root = frame(w, h, opts.label || "line chart", "lines");
  if (!pts.length) {
    root.append(svg("text", { class: "empty", x: left, y: h / 2 }, "no data in this range"));
    return el("div", { class: "line-chart" }, root);
  }
  const t0 = Math.min(...pts.map((p) => p[0]));
  const t1 = Math.max(t0 + 1, ...pts.map((p) => p[0]));
  const yMin = opts.yMin !== undefined ? opts.yMin : Math.min(...pts.map((p) => p[1]));
  let yMax = opts.yMax !== undefined ? opts.yMax : Math.max(...pts.map((p) => p[1]));
  if (yMax <= yMin) yMax = yMin + 1;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (w - left - right);
  const y = (v) => top + (1 - (v - yMin) / (yMax - yMin)) * (h - top - bottom);
  for (const v of [yMin, (yMin + yMax) / 2, yMax]) {
    root.append(
      svg("line", { class: "grid", x1: left, x2: w - right, y1: y(v), y2: y(v) }),
      svg("text", { class: "axis-label", x: left - 0.3 * r, y: y(v) + 0.35 * r, "text-anchor": "end" }, fmt(v, opts.format)),
    );
  }
  const xf = opts.xFormat || ((t) => new Date(t * 1000).toISOString().slice(11, 16));
  for (const t of [t0, (t0 + t1) / 2, t1]) {
    root.append(svg("text", { class: "axis-label", x: x(t), y: h - 0.4 * r, "text-anchor": "middle" }, xf(t)));
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    const last = s.points[s.points.length - 1];
    root.append(
      svg("path", { class: "series", d, stroke: s.colour, "stroke-dasharray": s.dash || null, fill: "none" }),
      svg("circle", { cx: x(last[0]), cy: y(last[1]), r: 0.25 * r, fill: s.colour }),
      svg("text", { class: "series-value", x: x(last[0]) + 0.4 * r, y: y(last[1]) + 0.35 * r }, fmt(last[1], opts.format)),
    );
  }
  const legend = el(
    "ul",
    { class: "stack-legend" },
    series.map((s) =>
      el("li", null, el("span", { class: ["swatch", s.dash && "swatch-dashed"], style: { backgroundColor: s.colour }, "aria-hidden": "true" }), s.name),
    ),
  );
  return el("div", { class: "line-chart" }, root, legend);
}
