// The station panel: live tags with quality and age, a history chart of the last hours (state timeline
// and power, from GET /history), alarms, upstream/downstream equipment (graph endpoints) and KPIs.

import { ageText, clock, el, replace, svg } from "./dom.js";

const WINDOWS = [
  { label: "1 h", s: 3600 },
  { label: "4 h", s: 4 * 3600 },
  { label: "8 h", s: 8 * 3600 },
];
const CHART_W = 360;
const BAND_H = 22;
const POWER_H = 90;
const PAD_L = 34;
const PAD_B = 16;

function pct(v) {
  return v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`;
}

function num(v, digits = 1, unit = "") {
  return v === null || v === undefined ? "–" : `${Number(v).toFixed(digits)}${unit ? " " + unit : ""}`;
}

function valueText(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

async function historyOf(api, id, tag, start, end, maxPages = 6) {
  const points = [];
  let after = null;
  let r;
  for (let page = 0; page < maxPages; page += 1) {
    r = await api.get("history", { equipment: id, tag, start, end, limit: 5000, after });
    points.push(...r.points);
    after = r.next_after;
    if (after === null) break;
  }
  return { points, partial: after !== null || r.truncated_by_retention };
}

/** State bands and a power line over [t0, t1] as an SVG (text-only labels). */
export function historyChart(live, states, power, t0, t1) {
  const w = CHART_W - PAD_L;
  const x = (t) => PAD_L + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * w;
  const nodes = [];
  states.forEach((p, i) => {
    const end = i + 1 < states.length ? states[i + 1].ts : t1;
    const entry = live.stateOf(p.value);
    const stale = p.quality === "stale" || p.quality === "bad";
    const fill = !entry || stale ? live.palette.stale.hex : entry.hex;
    const width = Math.max(0.5, x(end) - x(p.ts));
    nodes.push(
      svg("rect", { x: x(p.ts), y: 0, width, height: BAND_H, fill }, svg("title", null, `${clock(p.ts)} ${entry ? entry.name : valueText(p.value)}${stale ? " (stale)" : ""}`)),
    );
  });
  const vals = power.map((p) => Number(p.value)).filter((v) => Number.isFinite(v));
  const pmax = Math.max(1, ...vals);
  const y = (v) => BAND_H + 6 + POWER_H - (v / pmax) * POWER_H;
  let pts = "";
  power.forEach((p, i) => {
    const v = Number(p.value);
    if (!Number.isFinite(v)) return;
    const nextT = i + 1 < power.length ? power[i + 1].ts : t1;
    pts += `${x(p.ts)},${y(v)} ${x(nextT)},${y(v)} `; // a step line: the value holds until the next one
  });
  nodes.push(svg("line", { x1: PAD_L, x2: CHART_W, y1: y(0), y2: y(0), stroke: "#999" }));
  nodes.push(svg("polyline", { points: pts.trim(), fill: "none", stroke: "#0072b2", "stroke-width": 1.5 }));
  nodes.push(svg("text", { x: 0, y: BAND_H - 7, "font-size": 10 }, "state"));
  nodes.push(svg("text", { x: 0, y: y(pmax) + 8, "font-size": 10 }, `${pmax.toFixed(0)} kW`));
  nodes.push(svg("text", { x: 0, y: y(0), "font-size": 10 }, "0"));
  const h = BAND_H + 6 + POWER_H + PAD_B;
  nodes.push(svg("text", { x: PAD_L, y: h - 3, "font-size": 10 }, clock(t0)));
  nodes.push(svg("text", { x: CHART_W, y: h - 3, "font-size": 10, "text-anchor": "end" }, clock(t1)));
  return svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${CHART_W} ${h}`, role: "img", "aria-label": `State and power from ${clock(t0)} to ${clock(t1)}` },
    nodes,
  );
}

class StationPanel {
  constructor(root, { api, layout, live, id, onClose }) {
    this.root = root;
    this.api = api;
    this.live = live;
    this.id = id;
    this.eq = layout.equipment.find((e) => e.id === id);
    this.windowS = WINDOWS[0].s;
    this.tagsBody = el("tbody");
    this.chartBox = el("div", { class: "history" }, "loading history…");
    this.alarmsBox = el("div", { class: "alarms" });
    this.linksBox = el("div", { class: "links" });
    this.kpiBox = el("div", { class: "kpis" });
    const title = this.eq && this.eq.name ? `${id}: ${this.eq.name}` : id;
    const windowSelect = el(
      "select",
      { "aria-label": "History window", onchange: (ev) => this.loadHistory(Number(ev.target.value)) },
      WINDOWS.map((w) => el("option", { value: w.s }, w.label)),
    );
    replace(
      root,
      el("button", { type: "button", class: "close", "aria-label": "Close the station panel", onclick: onClose }, "×"),
      el("h2", { id: "panel-title", tabindex: "-1" }, title),
      el("p", { class: "message" }, `${this.eq ? this.eq.type : ""} · line ${this.eq ? this.eq.line : "?"}`),
      el("h3", null, "Live tags"),
      el("table", { class: "tags" }, el("thead", null, el("tr", null, el("th", null, "tag"), el("th", null, "value"), el("th", null, "quality"), el("th", null, "age"))), this.tagsBody),
      el("h3", null, "History ", windowSelect),
      this.chartBox,
      el("h3", null, "Alarms"),
      this.alarmsBox,
      el("h3", null, "Upstream and downstream"),
      this.linksBox,
      el("h3", null, "KPIs (last hour)"),
      this.kpiBox,
    );
    root.querySelector("#panel-title").focus();
    this.renderTags();
    this.offLive = live.onChange((eq, change) => {
      if (eq !== id) return;
      this.renderTags();
      if (change && (change.tag === "state" || change.tag === "power_kw" || change.tag === "alarm")) this.liveHistory(change);
    });
    this.ticker = setInterval(() => this.renderTags(), 1000);
    this.followStation(api, layout.view_tags);
    this.loadHistory(this.windowS);
    this.loadLinks();
    this.loadKpis();
  }

  /** Every tag of this station: its exact live values now, then a feed filtered to it by the server. */
  async followStation(api, viewTags) {
    const shared = new Set(viewTags); // the plant view's feed delivers these already
    this.feed = api.openFeed({ station: this.id });
    this.feed.subscribe((change, meta) => {
      if (!shared.has(change.tag)) this.live.apply(change, meta);
    });
    try {
      const now = await api.get(`stations/${encodeURIComponent(this.id)}`);
      if (this.destroyed) return;
      const have = this.live.values.get(this.id) || new Map();
      for (const [tag, t] of Object.entries(now.tags)) {
        const known = have.get(tag);
        if (!known || known.ts <= t.source_ts) {
          this.live.apply({ equipment: this.id, tag, value: t.value, quality: t.quality, ts: t.source_ts });
        }
      }
    } catch (err) {
      console.error("station tags", err);
    }
  }

  renderTags() {
    const tags = this.live.values.get(this.id) || new Map();
    const now = Date.now() / 1000;
    const rows = [...tags.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([tag, t]) =>
        el(
          "tr",
          { dataset: { tag } },
          el("td", null, tag),
          el("td", null, valueText(t.value)),
          el("td", { class: `q-${t.quality}` }, t.quality),
          el("td", null, t.ts ? ageText(t.ts, now) : "–"),
        ),
      );
    replace(this.tagsBody, rows.length ? rows : el("tr", null, el("td", { colspan: 4 }, "no live data yet")));
  }

  async loadHistory(windowS) {
    this.windowS = windowS;
    const t1 = Date.now() / 1000;
    const t0 = t1 - windowS;
    try {
      const [states, power, alarms] = await Promise.all(
        ["state", "power_kw", "alarm"].map((tag) => historyOf(this.api, this.id, tag, t0, t1)),
      );
      if (this.destroyed) return;
      this.hist = { t0, states: states.points, power: power.points, alarms: alarms.points, partial: states.partial || power.partial };
      this.hist.oldest = Math.min(...[states.points, power.points].filter((p) => p.length).map((p) => p[0].ts));
      this.drawHistory();
    } catch (err) {
      if (!this.destroyed) replace(this.chartBox, el("p", { role: "status" }, `History not available: ${err.message}`));
    }
  }

  liveHistory(change) {
    if (!this.hist) return;
    const point = { ts: change.ts, value: change.value, quality: change.quality };
    ({ state: this.hist.states, power_kw: this.hist.power, alarm: this.hist.alarms })[change.tag].push(point);
    clearTimeout(this.redraw);
    this.redraw = setTimeout(() => this.drawHistory(), 500);
  }

  drawHistory() {
    const h = this.hist;
    const t1 = Date.now() / 1000;
    // Where the stream holds less than the window (a young twin, retention), the chart starts at its data.
    const t0 = Math.max(t1 - this.windowS, h.partial && Number.isFinite(h.oldest) ? h.oldest : -Infinity);
    replace(
      this.chartBox,
      h.states.length || h.power.length ? historyChart(this.live, h.states, h.power, t0, t1) : el("p", null, "no recorded values in this window"),
      h.partial ? el("p", { class: "message" }, "partial: the change stream holds only part of this window") : null,
    );
    this.drawAlarms();
  }

  drawAlarms() {
    const items = [];
    for (const p of this.hist.alarms) {
      if (p.value !== null && p.value !== "" && p.value !== undefined) items.push({ ts: p.ts, text: String(p.value) });
    }
    for (const p of this.hist.states) {
      const s = this.live.stateOf(p.value);
      if (s && s.name === "Fault") items.push({ ts: p.ts, text: "Fault" });
    }
    items.sort((a, b) => b.ts - a.ts);
    const current = this.live.value(this.id, "alarm");
    replace(
      this.alarmsBox,
      current ? el("p", { class: "message error" }, `active: ${current}`) : el("p", { class: "message" }, "no active alarm"),
      items.length ? el("ul", null, items.slice(0, 20).map((a) => el("li", null, `${clock(a.ts, true)} ${a.text}`))) : null,
    );
  }

  async loadLinks() {
    try {
      const [up, down] = await Promise.all([this.api.get(`graph/upstream/${encodeURIComponent(this.id)}`), this.api.get(`graph/downstream/${encodeURIComponent(this.id)}`)]);
      if (this.destroyed) return;
      const near = (r) => r.items.filter((n) => n.distance === 1);
      const links = (items) =>
        items.length
          ? el("ul", null, items.map((n) => el("li", null, el("button", { type: "button", class: "link", onclick: () => window.__twin.plant.select(n.id) }, n.id))))
          : el("p", { class: "message" }, "none");
      replace(this.linksBox, el("p", null, "from"), links(near(up)), el("p", null, "to"), links(near(down)));
    } catch (err) {
      if (!this.destroyed) replace(this.linksBox, el("p", { role: "status" }, `not available: ${err.message}`));
    }
  }

  async loadKpis() {
    try {
      const k = await this.api.get(`kpi/stations/${encodeURIComponent(this.id)}`, { window_s: 3600 });
      if (this.destroyed) return;
      const rows = [
        ["vehicles", num(k.vehicles, 0)],
        ["throughput", num(k.throughput_per_h, 1, "/h")],
        ["utilisation", pct(k.utilisation)],
        ["OEE", pct(k.oee)],
        ["availability", pct(k.availability)],
        ["performance", pct(k.performance)],
        ["quality", pct(k.quality)],
        ["energy", num(k.energy_kwh, 1, "kWh")],
        ["kWh / vehicle", num(k.kwh_per_vehicle, 2)],
      ];
      replace(this.kpiBox, el("table", null, el("tbody", null, rows.map(([a, b]) => el("tr", null, el("th", null, a), el("td", null, b))))));
    } catch (err) {
      if (!this.destroyed) replace(this.kpiBox, el("p", { role: "status" }, `not available: ${err.message}`));
    }
  }

  destroy() {
    this.destroyed = true;
    replace(this.root);
    if (this.feed) this.feed.close();
    clearInterval(this.ticker);
    clearTimeout(this.redraw);
    this.offLive();
  }
}

/** Mount the panel of one station into root; returns {destroy()}. */
export function mountPanel(root, options) {
  return new StationPanel(root, options);
}
