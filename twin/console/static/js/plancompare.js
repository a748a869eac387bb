// What the Plans view says about two plans: diff marks and ghosts for the proposal's Gantt (from
// GET /plans/diff), the KPI deltas a scheduler decides on, and the simulation check's verdict.

import { el } from "./dom.js";
import { planLots, utcLabel } from "./gantt.js";
import { num, pct, table } from "./viewkit.js";

/** Marks (Map lot -> {kind, detail}) and ghosts (where moved lots were, removed lots) for plan b. */
export function diffMarks(diff, oldPlan) {
  const marks = new Map();
  const ghosts = [];
  const old = new Map(planLots(oldPlan).map((l) => [l.lot, l]));
  for (const a of diff.added || []) marks.set(a.lot, { kind: "added" });
  for (const m of diff.moved || []) {
    const was = old.get(m.lot);
    marks.set(m.lot, { kind: "moved", detail: was ? `(was ${utcLabel(was.start)} UTC)` : "" });
    if (was) ghosts.push({ ...was, kind: "was" });
  }
  for (const m of diff.reassigned || []) {
    const was = old.get(m.lot);
    marks.set(m.lot, { kind: "reassigned", detail: `(was on ${m.from})` });
    if (was) ghosts.push({ ...was, kind: "was" });
  }
  for (const r of diff.resized || []) {
    if (!marks.has(r.lot)) marks.set(r.lot, { kind: "resized", detail: `(${r.from} → ${r.to} cars)` });
  }
  for (const r of diff.removed || []) {
    const was = old.get(r.lot);
    if (was) ghosts.push({ ...was, kind: "removed" });
  }
  return { marks, ghosts };
}

function dedicatedIdle(plan) {
  const d = (plan.kpis || {}).dedicated_idle_h;
  if (!d || typeof d !== "object") return null;
  const vals = Object.values(d).filter((v) => typeof v === "number");
  return vals.length ? vals.reduce((s, v) => s + v, 0) : null;
}

const DELTAS = [
  { key: "unmet", label: "Unmet cars", get: (p) => (p.kpis || {}).unmet, digits: 0, lower: true },
  { key: "kwh_per_vehicle", label: "kWh per vehicle", get: (p) => (p.kpis || {}).kwh_per_vehicle, digits: 2, lower: true },
  { key: "peak_kw", label: "Peak kW", get: (p) => (p.kpis || {}).peak_kw, digits: 0, lower: true },
  { key: "dedicated_idle_h", label: "Idle hours, dedicated line", get: dedicatedIdle, digits: 2, lower: true },
  { key: "cars", label: "Cars planned", get: (p) => (p.kpis || {}).cars, digits: 0, lower: null },
  { key: "energy_kwh", label: "Energy kWh", get: (p) => (p.kpis || {}).energy_kwh, digits: 0, lower: true },
];

/** [{key, label, from, to, delta, verdict: "better" | "worse" | "same" | ""}] from plan a to plan b. */
export function kpiDeltas(a, b) {
  return DELTAS.map((d) => {
    const from = d.get(a);
    const to = d.get(b);
    const ok = typeof from === "number" && typeof to === "number";
    const delta = ok ? to - from : null;
    let verdict = "";
    if (ok && d.lower !== null) {
      if (Math.abs(delta) < 1e-9) verdict = "same";
      else verdict = (delta < 0) === d.lower ? "better" : "worse";
    }
    return { ...d, from, to, delta, verdict };
  });
}

/** The KPI deltas as a table (the verdict in words, not only colour). */
export function kpiDeltaTable(a, b) {
  const rows = kpiDeltas(a, b).map((d) => ({
    attrs: { dataset: { kpi: d.key, verdict: d.verdict } },
    cells: [
      d.label,
      { text: num(d.from, d.digits), class: "num" },
      { text: num(d.to, d.digits), class: "num" },
      { text: d.delta === null ? "–" : (d.delta > 0 ? "+" : "") + num(d.delta, d.digits), class: "num" },
      { text: d.verdict, class: `verdict verdict-${d.verdict}` },
    ],
  }));
  return table(["KPI", `v${a.version}`, `v${b.version}`, "Δ", ""], rows, { class: "kpi-deltas", label: "KPI deltas" });
}

/** The simulation check of a plan (meta.check) as a verdict element. */
export function checkVerdict(plan) {
  const c = (plan.meta || {}).check;
  if (!c) return el("p", { class: "verdict-line", dataset: { check: "none" } }, "Simulation check: not run for this plan.");
  const seeds = Array.isArray(c.seeds) ? c.seeds.length : c.seeds;
  const missing = c.missing && Object.keys(c.missing).length
    ? Object.entries(c.missing).map(([m, q]) => `${m} ${q}`).join(", ")
    : "";
  return el(
    "p",
    { class: ["verdict-line", c.ok ? "check-ok" : "check-failed"], dataset: { check: c.ok ? "ok" : "failed" } },
    el("strong", null, c.ok ? "✓ Simulation check passed" : "✗ Simulation check failed"),
    `: ${seeds || "?"} simulated runs, demand fulfilment mean ${pct(c.fulfilment_mean)}, worst ${pct(c.fulfilment_min)}`,
    missing ? `; short in simulation: ${missing}` : "",
    typeof c.kwh_per_vehicle === "number" ? `; ${num(c.kwh_per_vehicle, 2)} kWh/vehicle simulated` : "",
    ".",
  );
}

/** The diff in words: counts and the lots that changed. */
export function diffSummary(diff) {
  const n = (k) => (diff[k] || []).length;
  const items = [];
  for (const a of diff.added || []) items.push(`+ ${a.lot}: ${a.quantity} × ${a.model} on ${a.resource}`);
  for (const r of diff.removed || []) items.push(`− ${r.lot}: ${r.quantity} × ${r.model} from ${r.resource}`);
  for (const m of diff.moved || []) items.push(`→ ${m.lot} on ${m.resource}: ${Math.round((m.start_to - m.start_from) / 60)} min`);
  for (const m of diff.reassigned || []) items.push(`⇄ ${m.lot} (${m.model}): ${m.from} → ${m.to}`);
  for (const r of diff.resized || []) items.push(`± ${r.lot}: ${r.from} → ${r.to} cars`);
  const demand = Object.entries(diff.demand || {}).map(([m, d]) => `${m}: ${d.from ?? 0} → ${d.to ?? 0}`);
  return el(
    "div",
    { class: "diff-summary" },
    el(
      "p",
      { class: "diff-counts" },
      `${n("added")} added, ${n("removed")} removed, ${n("moved")} moved, ${n("reassigned")} on another resource, ${n("resized")} resized`,
      demand.length ? `; demand ${demand.join(", ")}` : "",
    ),
    items.length
      ? el("details", null, el("summary", null, `The ${items.length} changed lots`), el("ul", { class: "diff-items" }, items.map((t) => el("li", null, t))))
      : null,
  );
}
