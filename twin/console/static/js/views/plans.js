// The Plans view: the current plan as a Gantt, demand per model, Re-plan with the proposal beside the
// plan it replaces (Gantt diff, KPI deltas, simulation verdict), Accept and Dispatch as separate confirmed
// actions, and the plan history with who did what. A viewer gets the plans and none of the controls.
//
// Re-plan asks for a proposal (`POST /replan {"propose": true}`): the next version, stored but neither
// current nor dispatched. Accept makes it current (`POST /plans/{v}/accept`; the API refuses a proposal made
// from a plan that is no longer current); Dispatch sends the accepted plan to the PLCs. An API without the
// proposal step (an older server) gets a plain re-plan, whose result is current at once.

import { el, replace, clear } from "../dom.js";
import { confirmDialog } from "../confirm.js";
import { demandEditor } from "../demand.js";
import { drawGantt, frozenWindow, ganttLegend, lotsTable, modelColours, planLots, planRange } from "../gantt.js";
import { checkVerdict, diffMarks, diffSummary, kpiDeltaTable } from "../plancompare.js";
import { historyTable } from "../planhistory.js";
import { card, errorText, num, statusLine, utcTime } from "../viewkit.js";

let view = null;

class PlansView {
  constructor(root, ctx) {
    this.root = root;
    this.api = ctx.api;
    this.ctx = ctx;
    this.canEdit = ctx.can("scheduler");
    this.isAdmin = ctx.can("admin");
    this.gantts = [];
    this.status = statusLine("plans-status");
    this.calendars = new Map();
    this.currentBox = el("div", { class: "plan-current-body" });
    this.compareBox = el("section", { class: "card plan-compare", id: "plan-compare", hidden: true, "aria-label": "Compare plans" });
    this.historyBox = el("div", { class: "plan-history-body" });
    this.demandBox = el("div", { class: "demand-body" });
    this.replanBtn = this.canEdit
      ? el("button", { type: "button", class: "primary", id: "replan", onclick: () => this.replan() }, "Re-plan")
      : null;
    this.refreshBtn = el("button", { type: "button", id: "plans-refresh", onclick: () => this.refresh() }, "Refresh");
    replace(
      root,
      el(
        "div",
        { class: "plans", dataset: { role: ctx.role } },
        el("div", { class: "plans-toolbar" }, el("h1", null, "Plans"), this.replanBtn, this.refreshBtn, this.status.node),
        card("Current plan", { class: "plan-current" }, this.currentBox),
        this.compareBox,
        el(
          "div",
          { class: "plans-side" },
          card("Demand per model", { class: "plan-demand" }, this.demandBox),
          card("Plan history", { class: "plan-history" }, this.historyBox),
        ),
      ),
    );
  }

  async load() {
    const [models, resources, layout] = await Promise.all([
      this.api.get("models"),
      this.api.get("resources"),
      this.api.get("layout").catch(() => null),
    ]);
    this.models = models;
    this.viewerModels = (layout && layout.palette && layout.palette.models) || null;
    this.resources = resources;
    this.demand = demandEditor({
      api: this.api,
      editable: this.canEdit,
      models,
      say: (t, k) => this.status.say(t, k),
      onSaved: () => this.refreshDemand(),
    });
    replace(this.demandBox, this.demand.node);
    await this.refresh();
  }

  async refresh() {
    try {
      this.current = await this.api.get("plans/current").catch((err) => {
        if (err.status === 404) return null;
        throw err;
      });
      await Promise.all([this.renderCurrent(), this.refreshDemand(), this.renderHistory()]);
      this.root.dataset.current = this.current ? String(this.current.version) : "";
    } catch (err) {
      this.status.say(errorText(err, "Loading the plans"), "error");
    }
  }

  async refreshDemand() {
    const { demand } = await this.api.get("demand");
    this.demand.show(demand, this.current ? this.current.demand : null);
  }

  colours(...plans) {
    const extra = plans.flatMap((p) => (p ? p.assignments.map((a) => a.model) : []));
    return modelColours(this.models, extra, this.viewerModels);
  }

  rows(...plans) {
    const out = this.resources.map((r) => ({ id: r.id, name: r.line_name || "" }));
    const known = new Set(out.map((r) => r.id));
    for (const p of plans) {
      for (const a of p.assignments) {
        if (!known.has(a.resource)) {
          known.add(a.resource);
          out.push({ id: a.resource, name: "" });
        }
      }
    }
    return out;
  }

  async windows(range) {
    const key = `${Math.floor(range.start)}-${Math.ceil(range.end)}`;
    if (!this.calendars.has(key)) {
      const cal = await this.api.get("calendar", { start: Math.floor(range.start), end: Math.ceil(range.end) });
      this.calendars.set(key, cal.windows);
    }
    return this.calendars.get(key);
  }

  dropGantts(box) {
    this.gantts = this.gantts.filter((g) => {
      if (box.contains(g.figure)) {
        g.destroy();
        return false;
      }
      return true;
    });
  }

  async gantt(box, plan, range, extra = {}) {
    const models = extra.models || this.colours(plan);
    const g = drawGantt(box, {
      rows: extra.rows || this.rows(plan),
      lots: planLots(plan),
      models,
      range,
      windows: await this.windows(range),
      frozen: frozenWindow(plan),
      frozenLots: new Set((plan.meta && plan.meta.frozen) || []),
      now: Date.now() / 1000,
      marks: extra.marks,
      ghosts: extra.ghosts,
      label: `Gantt of plan v${plan.version}: ${plan.assignments.length} lots`,
    });
    this.gantts.push(g);
    return g;
  }

  async renderCurrent() {
    this.dropGantts(this.currentBox);
    clear(this.currentBox);
    const p = this.current;
    if (!p) {
      this.currentBox.append(el("p", { class: "empty" }, "No plan yet.", this.canEdit ? " Re-plan to make the first one." : ""));
      return;
    }
    const k = p.kpis || {};
    const models = this.colours(p);
    this.currentBox.append(
      el(
        "p",
        { class: "plan-meta", id: "current-meta" },
        el("strong", null, `v${p.version}`),
        ` · made ${utcTime(p.created_at)} · ${p.reason || "no reason given"} · ${num(k.cars)} cars, ${num(k.unmet)} unmet, `,
        `${num(k.kwh_per_vehicle, 2)} kWh/vehicle, peak ${num(k.peak_kw)} kW`,
      ),
    );
    const host = el("div", { class: "gantt-host", id: "gantt-current" });
    this.currentBox.append(host);
    await this.gantt(host, p, planRange(p), { models });
    this.currentBox.append(
      ganttLegend(models),
      checkVerdict(p),
      el("details", { class: "lots-details" }, el("summary", null, `Lots of v${p.version} as a table`), lotsTable(planLots(p), models)),
    );
    if (this.canEdit) {
      this.currentBox.append(
        el("div", { class: "actions" }, el("button", { type: "button", id: "dispatch-current", onclick: () => this.dispatch(p.version) }, `Dispatch v${p.version} to the lines…`)),
      );
    }
  }

  async replan() {
    const base = this.current ? this.current.version : null;
    this.replanBtn.disabled = true;
    this.status.say("Re-planning: solving and checking the plan in simulation…", "busy");
    try {
      const out = await this.api.post("replan", { propose: true }).catch((err) => {
        if (err.status === 503 && err.code === "not_configured") return this.api.post("replan");
        throw err;
      });
      if (base !== null && out.version === base) {
        this.status.say(`The re-planner kept v${base}: the plan is unchanged.`, "ok");
        return;
      }
      const pending = out.action === "propose";
      this.status.say(
        pending
          ? `Proposal v${out.version} is ready (not current, not dispatched): compare it with v${base ?? "–"} below, then accept and dispatch it.`
          : `v${out.version} is stored and current (this API makes no proposals): compare it with v${base ?? "–"} below.`,
        "ok",
      );
      await this.refresh();
      if (base !== null) await this.compare(base, out.version, { proposal: pending });
      else if (pending) await this.accept(out.version, null);
    } catch (err) {
      this.status.say(errorText(err, "Re-plan"), "error");
    } finally {
      this.replanBtn.disabled = false;
    }
  }

  /** Show plan b beside plan a: two Gantts on one time axis, the diff, the KPI deltas and the verdict. */
  async compare(a, b, { proposal = false } = {}) {
    const [pa, pb, diff] = await Promise.all([
      this.api.get(`plans/${a}`),
      this.api.get(`plans/${b}`),
      this.api.get("plans/diff", { a, b }),
    ]);
    this.dropGantts(this.compareBox);
    const ra = planRange(pa);
    const rb = planRange(pb);
    const range = { start: Math.min(ra.start, rb.start), end: Math.max(ra.end, rb.end) };
    const models = this.colours(pa, pb);
    const rows = this.rows(pa, pb);
    const { marks, ghosts } = diffMarks(diff, pa);
    const left = el("div", { class: "gantt-host", id: "gantt-before" });
    const right = el("div", { class: "gantt-host", id: "gantt-proposal" });
    const actions = el("div", { class: "actions compare-actions" });
    const title = proposal ? `Proposal v${b} beside v${a}` : `v${b} compared with v${a}`;
    replace(
      this.compareBox,
      el("div", { class: "compare-head" }, el("h2", { id: "compare-title", tabindex: "-1" }, title),
        el("button", { type: "button", class: "close", onclick: () => this.closeCompare() }, "Close")),
      el(
        "div",
        { class: "compare-grid" },
        el("div", { class: "compare-col" }, el("h3", null, `v${a}`, proposal ? " (in force before)" : ""), left),
        el("div", { class: "compare-col" }, el("h3", null, `v${b}`, proposal ? " (proposal)" : ""), right),
      ),
      ganttLegend(models, { diff: true }),
      el("div", { class: "compare-facts" }, el("div", null, el("h3", null, "KPI deltas"), kpiDeltaTable(pa, pb)),
        el("div", null, el("h3", null, "What changed"), diffSummary(diff), checkVerdict(pb))),
      el("details", { class: "lots-details" }, el("summary", null, `Lots of v${b} with their changes`), lotsTable(planLots(pb), models, marks)),
      actions,
    );
    this.compareBox.hidden = false;
    this.compareBox.dataset.a = String(a);
    this.compareBox.dataset.b = String(b);
    await this.gantt(left, pa, range, { models, rows });
    await this.gantt(right, pb, range, { models, rows, marks, ghosts });
    if (this.canEdit) this.compareActions(actions, pa, pb, proposal);
    this.compareBox.querySelector("#compare-title").focus();
  }

  compareActions(box, pa, pb, proposal) {
    if (!proposal) {
      const back = el("button", { type: "button", id: "roll-back", onclick: () => this.accept(pa.version, null) }, `Make v${pa.version} current again…`);
      box.append(back, el("p", { class: "hint" }, "A roll-back: dispatch it from the current plan afterwards."));
      return;
    }
    const accept = el("button", { type: "button", class: "primary", id: "accept", onclick: () => this.accept(pb.version, dispatch) }, `Accept v${pb.version}…`);
    const dispatch = el("button", { type: "button", id: "dispatch", disabled: true, onclick: () => this.dispatch(pb.version) }, `Dispatch v${pb.version}…`);
    const discard = el("button", { type: "button", id: "discard", onclick: () => this.closeCompare() }, `Keep v${pa.version}`);
    box.append(accept, dispatch, discard,
      el("p", { class: "hint" }, `Accept makes v${pb.version} the current plan; Dispatch sends it to the lines' PLCs. Each asks first. Keep v${pa.version} leaves the proposal unaccepted.`));
  }

  closeCompare() {
    this.dropGantts(this.compareBox);
    clear(this.compareBox);
    this.compareBox.hidden = true;
    if (this.replanBtn) this.replanBtn.focus();
  }

  async accept(version, dispatchBtn) {
    const replacing = this.current ? ` in place of v${this.current.version}` : "";
    const ok = await confirmDialog({
      title: `Accept plan v${version}?`,
      body: `v${version} becomes the current plan${replacing}. Nothing is sent to the lines until you dispatch it.`,
      confirm: `Accept v${version}`,
    });
    if (!ok) return;
    try {
      const out = await this.api.post(`plans/${version}/accept`);
      this.status.say(`Accepted v${out.version} (audit ${out.audit_id}).`, "ok");
      if (dispatchBtn) {
        dispatchBtn.disabled = false;
        dispatchBtn.focus();
      }
      this.compareBox.dataset.accepted = String(version);
      await this.refresh();
    } catch (err) {
      this.status.say(errorText(err, `Accepting v${version}`), "error");
    }
  }

  async dispatch(version) {
    const ok = await confirmDialog({
      title: `Dispatch plan v${version} to the lines?`,
      body: `Every line's PLC receives its part of v${version} that is still to build, through the write-back channel. This changes what the plant builds.`,
      confirm: `Dispatch v${version}`,
      danger: true,
    });
    if (!ok) return;
    this.status.say(`Dispatching v${version}…`, "busy");
    try {
      const out = await this.api.post(`plans/${version}/dispatch`);
      const lines = Object.entries(out.result || {});
      const bad = lines.filter(([, r]) => typeof r === "string" ? /^(error|rejected)/.test(r) : r && r.ok === false);
      const text = lines.map(([l, r]) => `${l}: ${typeof r === "string" ? r : r && r.ok === false ? "failed" : "accepted"}`).join(", ");
      this.status.say(`Dispatched v${version}${text ? " — " + text : ""}.`, bad.length ? "error" : "ok");
      this.root.dataset.dispatched = String(version);
      await this.renderHistory();
    } catch (err) {
      this.status.say(errorText(err, `Dispatching v${version}`), "error");
    }
  }

  async renderHistory() {
    const page = await this.api.get("plans", { limit: 20 });
    let audit = null;
    if (this.isAdmin) {
      audit = await this.api.get("admin/audit", { limit: 500 }).then((r) => r.items).catch(() => null);
    }
    replace(
      this.historyBox,
      historyTable(page, audit, {
        current: this.current ? this.current.version : null,
        onCompare: (v, proposed) => {
          const cur = this.current.version;
          const shown = proposed && v > cur ? this.compare(cur, v, { proposal: true }) : this.compare(v, cur);
          shown.catch((err) => this.status.say(errorText(err, "Comparing"), "error"));
        },
      }),
    );
  }

  destroy() {
    for (const g of this.gantts) g.destroy();
    this.gantts = [];
  }
}

/** Mount the Plans view. */
export async function mount(root, ctx) {
  view = new PlansView(root, ctx);
  window.__twin = window.__twin || {};
  window.__twin.plansView = view;
  await view.load();
}

/** The tab is shown again: fetch what may have changed meanwhile. */
export function activate() {
  if (view) view.refresh();
}

/** Sign-out. */
export function unmount() {
  if (view) view.destroy();
  view = null;
}
