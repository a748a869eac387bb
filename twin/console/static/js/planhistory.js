// The plan history (GET /plans): version, when, why, KPIs, check; who did what from the audit log for an
// admin (re-plan, accept, dispatch per version), the plan's own metadata (reason, base version) otherwise.

import { el } from "./dom.js";
import { num, table, utcTime } from "./viewkit.js";

const ACTIONS = { "plan.replan": "re-planned", "plan.propose": "proposed", "plan.accept": "accepted", "plan.dispatch": "dispatched", "plan.store": "stored" };

function whoDid(audit, version) {
  const rows = (audit || []).filter((e) => e.detail && e.detail.version === version && ACTIONS[e.action]);
  if (!rows.length) return "–";
  return el(
    "ul",
    { class: "who-did" },
    rows
      .slice()
      .reverse()
      .map((e) =>
        el("li", null, `${ACTIONS[e.action]} by ${e.actor} ${utcTime(Number(e.ts))}`, e.result !== "ok" ? ` (${e.result})` : ""),
      ),
  );
}

/** The history table; onCompare(version) compares a past version with the current one. */
export function historyTable(page, audit, { current, onCompare }) {
  const rows = page.items.map((p) => {
    const k = p.kpis || {};
    const pending = p.proposed && !p.current && current !== null && p.version > current;
    const base = p.version === current ? el("strong", { class: "current-mark" }, "current") : current
      ? el("button", { type: "button", class: "compare-btn", onclick: () => onCompare(p.version, pending) }, pending ? "Review proposal" : `Compare with v${current}`)
      : "";
    return {
      attrs: { dataset: { version: String(p.version) } },
      cells: [
        { node: [`v${p.version}`, pending ? el("span", { class: "badge" }, " proposal") : null] },
        utcTime(p.created_at),
        p.base_version ? `${p.reason || "–"} (from v${p.base_version})` : p.reason || "–",
        { text: num(k.cars), class: "num" },
        { text: num(k.unmet), class: "num" },
        { text: num(k.kwh_per_vehicle, 2), class: "num" },
        audit ? { node: whoDid(audit, p.version) } : "",
        { node: base },
      ],
    };
  });
  const note = page.total > page.items.length ? el("p", { class: "hint" }, `The newest ${page.items.length} of ${page.total} versions.`) : null;
  return el(
    "div",
    null,
    table(["Version", "Made", "Reason", "Cars", "Unmet", "kWh/veh", audit ? "Who did what" : "", ""], rows, { class: "history", label: "Plan history" }),
    note,
  );
}
