// The KPIs view: per line and plant over a period (rolling windows or the shifts of the plant calendar):
// throughput against the plan's target, OEE with availability, performance and quality, energy per
// vehicle, the top downtime causes. Charts with their numbers written out, and the table of it all.

import { el, replace } from "../dom.js";
import { SERIES, barGroups, hbars } from "../charts.js";
import { SOURCES, downtimeCauses, periods, targets } from "../kpisource.js";
import { card, duration, errorText, num, pct, statusLine, table } from "../viewkit.js";

const REFRESH_MS = 60_000;
let view = null;

class KpisView {
  constructor(root, ctx) {
    this.root = root;
    this.api = ctx.api;
    this.source = SOURCES[0];
    this.status = statusLine("kpis-status");
    this.select = el("select", { id: "kpi-period", onchange: () => this.refresh() });
    this.body = el("div", { class: "kpis-body" });
    this.timer = null;
    replace(
      root,
      el(
        "div",
        { class: "kpis" },
        el(
          "div",
          { class: "kpis-toolbar" },
          el("h1", null, "KPIs"),
          el("label", { for: "kpi-period" }, "Period", this.select),
          el("button", { type: "button", id: "kpi-refresh", onclick: () => this.refresh() }, "Refresh"),
          this.status.node,
        ),
        this.body,
      ),
    );
  }

  async load() {
    const [resources, calendar, layout] = await Promise.all([
      this.api.get("resources"),
      this.api.get("calendar"),
      this.api.get("layout").catch(() => null),
    ]);
    this.resources = resources;
    this.calendar = calendar;
    this.stateColours = new Map(((layout && layout.palette && layout.palette.states) || []).map((s) => [s.name, s.hex]));
    this.fillPeriods();
    await this.refresh();
    this.timer = setInterval(() => {
      if (!this.root.hidden) this.refresh();
    }, REFRESH_MS);
  }

  fillPeriods() {
    const keep = this.select.value || "1h";
    this.periods = periods(this.calendar, Date.now() / 1000);
    replace(this.select, this.periods.map((p) => el("option", { value: p.id, selected: p.id === keep }, p.label)));
  }

  async refresh() {
    const now = Date.now() / 1000;
    const id = this.select.value || "1h";
    this.periods = periods(this.calendar, now);
    const period = this.periods.find((p) => p.id === id) || this.periods[1];
    this.status.say(`Computing KPIs for ${period.label.toLowerCase()}…`, "busy");
    try {
      const [report, plan] = await Promise.all([
        this.source.report(this.api, period),
        this.api.get("plans/current").catch(() => null),
      ]);
      this.render(report, targets(plan, this.resources, this.calendar.time_scale || 1), period, plan);
      this.status.say(`${period.label}: ${new Date(report.start * 1000).toISOString().slice(11, 16)}–${new Date(report.end * 1000).toISOString().slice(11, 16)} UTC, from the ${this.source.name}.`, "ok");
      this.root.dataset.loaded = String(Date.now());
    } catch (err) {
      this.status.say(errorText(err, "Loading KPIs"), "error");
    }
  }

  render(report, target, period, plan) {
    const lines = Object.values(report.lines);
    const plantTarget = Object.values(target).reduce((s, v) => s + (v || 0), 0) || null;
    const p = report.plant;
    const tiles = el(
      "div",
      { class: "kpi-tiles", id: "kpi-tiles" },
      tile("Plant throughput", `${num(p.throughput_per_h, 1)} /h`, plantTarget ? `target ${num(plantTarget, 1)} /h` : "no plan"),
      tile("Vehicles", num(p.vehicles), `in ${duration(p.observed_s)} observed`),
      tile("Plant OEE", pct(p.oee), `A ${pct(p.availability, 0)} · P ${pct(p.performance, 0)} · Q ${pct(p.quality, 0)}`),
      tile("Energy per vehicle", `${num(p.kwh_per_vehicle, 2)} kWh`, `${num(p.energy_kwh, 0)} kWh in all`),
    );
    const thr = hbars(
      [...lines.map((k) => ({ label: k.id, value: k.throughput_per_h, target: target[k.id] ?? undefined })),
        { label: "plant", value: p.throughput_per_h, target: plantTarget ?? undefined, colour: SERIES.black }],
      { label: "Throughput per hour against the plan's target", format: (v) => num(v, 1) },
    );
    const oee = barGroups(
      [...lines, p].map((k) => ({
        label: k.scope === "plant" ? "plant" : k.id,
        bars: [
          { label: "OEE", value: k.oee, colour: SERIES.black },
          { label: "availability", value: k.availability, colour: SERIES.blue },
          { label: "performance", value: k.performance, colour: SERIES.orange },
          { label: "quality", value: k.quality, colour: SERIES.green },
        ],
      })),
      { label: "OEE and its three factors per line", max: 1, format: (v) => pct(v, 0) },
    );
    const energy = hbars(
      [...lines.map((k) => ({ label: k.id, value: k.kwh_per_vehicle, colour: SERIES.purple })),
        { label: "plant", value: p.kwh_per_vehicle, colour: SERIES.black }],
      { label: "Energy per vehicle (kWh)", format: (v) => num(v, 2), unit: "kWh" },
    );
    const causes = downtimeCauses(report);
    const down = causes.length
      ? hbars(
          causes.map((c) => ({ label: `${c.station} · ${c.state}`, value: c.seconds / 60, colour: this.stateColours.get(c.state) || SERIES.grey, text: duration(c.seconds) })),
          { label: "Top downtime causes (minutes)", labelWidth: 12 * parseFloat(getComputedStyle(document.documentElement).fontSize) },
        )
      : el("p", { class: "empty" }, "No downtime in this period.");
    const rows = [...lines, p].map((k) => ({
      attrs: { dataset: { scope: k.scope, id: k.id } },
      cells: [
        k.scope === "plant" ? "plant" : k.id,
        { text: num(k.vehicles), class: "num" },
        { text: num(k.throughput_per_h, 1), class: "num" },
        { text: num(k.scope === "plant" ? plantTarget : target[k.id], 1), class: "num" },
        { text: pct(k.oee), class: "num" },
        { text: pct(k.availability), class: "num" },
        { text: pct(k.performance), class: "num" },
        { text: pct(k.quality), class: "num" },
        { text: num(k.kwh_per_vehicle, 2), class: "num" },
      ],
    }));
    replace(
      this.body,
      tiles,
      el(
        "div",
        { class: "kpi-grid" },
        card("Throughput against target", { id: "kpi-throughput" }, thr, el("p", { class: "hint" }, plan ? `Bars: cars per hour; black tick: the target of plan v${plan.version} (its cars per working hour${(this.calendar.time_scale || 1) !== 1 ? `, × ${this.calendar.time_scale} simulated speed` : ""}).` : "No plan: no target.")),
        card("OEE = availability × performance × quality", { id: "kpi-oee" }, oee),
        card("Energy per vehicle", { id: "kpi-energy" }, energy),
        card("Top downtime causes", { id: "kpi-downtime" }, down),
      ),
      card(
        "All figures",
        { id: "kpi-table" },
        table(["Line", "Vehicles", "Cars/h", "Target/h", "OEE", "Availability", "Performance", "Quality", "kWh/vehicle"], rows, { label: "KPIs per line" }),
      ),
    );
  }

  destroy() {
    clearInterval(this.timer);
  }
}

function tile(label, value, sub) {
  return el("div", { class: "kpi-tile" }, el("div", { class: "k" }, label), el("div", { class: "v" }, value), el("div", { class: "k" }, sub));
}

/** Mount the KPIs view. */
export async function mount(root, ctx) {
  view = new KpisView(root, ctx);
  await view.load();
}

/** Shown again: recompute. */
export function activate() {
  if (view) view.refresh();
}

/** Sign-out: stop refreshing. */
export function unmount() {
  if (view) view.destroy();
  view = null;
}
