// Small pieces the Plans, KPIs and Admin views share: a status line (aria-live), number and time
// formats, tables and sections built with el() (text only).

import { el, replace } from "./dom.js";

/** A status line: {node, say(text, kind = "info" | "ok" | "error" | "busy")}; announced politely. */
export function statusLine(cls = "") {
  const node = el("p", { class: ["view-status", cls], role: "status", "aria-live": "polite" });
  return {
    node,
    say(text, kind = "info") {
      node.dataset.kind = kind;
      replace(node, text || "");
    },
  };
}

/** An error's text for a user: the API's message, with what to do for the usual statuses. */
export function errorText(err, doing) {
  const msg = err && err.message ? err.message : String(err);
  const pre = doing ? `${doing} failed: ` : "";
  if (err && err.status === 403) return `${pre}${msg}`;
  if (err && err.status === 0) return `${pre}${msg} (check that twin serve is running)`;
  return `${pre}${msg}`;
}

/** A number with `digits` decimals (– for none) and an optional unit. */
export function num(v, digits = 0, unit = "") {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const s = Number(v).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit ? `${s} ${unit}` : s;
}

/** A ratio 0..1 as a percentage. */
export function pct(v, digits = 1) {
  return v === null || v === undefined ? "–" : `${(v * 100).toFixed(digits)} %`;
}

/** Epoch seconds as "YYYY-MM-DD HH:MM UTC". */
export function utcTime(ts) {
  if (!ts) return "–";
  return new Date(ts * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** Seconds as "1 h 05 min" / "12 min" / "40 s". */
export function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A table: headers [text], rows [[cell]] (cells: text, Node, or {text|node, class}). */
export function table(headers, rows, attrs = {}) {
  const cell = (tag, c) => {
    if (c && typeof c === "object" && !(c instanceof Node) && !Array.isArray(c)) {
      return el(tag, { class: c.class, scope: tag === "th" ? "col" : null }, c.node || c.text);
    }
    return el(tag, tag === "th" ? { scope: "col" } : null, c);
  };
  return el(
    "table",
    { class: ["data", attrs.class], "aria-label": attrs.label || null },
    el("thead", null, el("tr", null, headers.map((h) => cell("th", h)))),
    el(
      "tbody",
      null,
      rows.map((r) => el("tr", r.attrs || null, (r.cells || r).map((c) => cell("td", c)))),
    ),
  );
}

/** A card with a heading: section("Demand", {id, class}, ...children). */
export function card(title, attrs, ...children) {
  const a = attrs || {};
  return el("section", { ...a, class: ["card", a.class] }, el("h2", null, title), ...children);
}
