// The Admin view (admin role; the shell offers the tab to admins only and the API refuses anyone else):
// the write-back kill switch (confirmed, with a reason for the audit log), the audit log (paged), API
// tokens (issue: shown once; revoke: confirmed) and the health of the data sources per line.

import { el, replace } from "../dom.js";
import { stackBar } from "../charts.js";
import { confirmDialog } from "../confirm.js";
import { card, duration, errorText, num, statusLine, table, utcTime } from "../viewkit.js";

const AUDIT_PAGE = 25;
const QUALITY_COLOURS = { good: "#009E73", uncertain: "#F0E442", stale: "#DCDCDC", bad: "#D55E00", missing: "#333333" };
const EXPIRY = [["", "never"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"], ["31536000", "1 year"]];
let view = null;

class AdminView {
  constructor(root, ctx) {
    this.root = root;
    this.api = ctx.api;
    this.status = statusLine("admin-status");
    this.auditOffset = 0;
    this.switchBox = el("div", { id: "writeback" });
    this.auditBox = el("div", { id: "audit" });
    this.tokenBox = el("div", { id: "tokens" });
    this.sourceBox = el("div", { id: "sources" });
    replace(
      root,
      el(
        "div",
        { class: "admin" },
        el("div", { class: "admin-toolbar" }, el("h1", null, "Admin"),
          el("button", { type: "button", id: "admin-refresh", onclick: () => this.refresh() }, "Refresh"), this.status.node),
        el(
          "div",
          { class: "admin-grid" },
          card("Write-back to the PLCs", { class: "admin-writeback" }, this.switchBox),
          card("API tokens", { class: "admin-tokens" }, this.tokenBox),
        ),
        card("Data sources", { class: "admin-sources" }, this.sourceBox),
        card("Audit log", { class: "admin-audit" }, this.auditBox),
      ),
    );
  }

  async refresh() {
    const parts = [
      ["the write-back switch", () => this.renderSwitch()],
      ["the tokens", () => this.renderTokens()],
      ["the data sources", () => this.renderSources()],
      ["the audit log", () => this.renderAudit()],
    ];
    const failed = [];
    await Promise.all(parts.map(([what, fn]) => fn().catch((err) => failed.push(errorText(err, `Loading ${what}`)))));
    if (failed.length) this.status.say(failed.join("; "), "error");
    this.root.dataset.loaded = String(Date.now());
  }

  // ---------------------------------------------------------------- write-back kill switch
  async renderSwitch() {
    const { enabled } = await this.api.get("admin/writeback");
    const flip = el(
      "button",
      { type: "button", id: "writeback-toggle", class: enabled ? "danger" : "primary", onclick: () => this.flip(!enabled) },
      enabled ? "Switch write-back off…" : "Switch write-back on…",
    );
    replace(
      this.switchBox,
      el("p", { class: "switch-state", id: "writeback-state", dataset: { enabled: String(enabled) } },
        enabled ? "On: dispatched plans are written to the PLCs." : "Off: nothing is written to the PLCs; dispatch is refused."),
      el("div", { class: "actions" }, flip),
    );
    this.root.dataset.writeback = String(enabled);
  }

  async flip(enabled) {
    const reason = await confirmDialog({
      title: enabled ? "Switch write-back on?" : "Switch write-back off?",
      body: enabled
        ? "Plans dispatched from now on are written to the lines' PLCs."
        : "Every write to the PLCs stops at once (the kill switch): dispatching a plan is refused until write-back is on again.",
      confirm: enabled ? "Switch on" : "Switch off",
      danger: !enabled,
      input: { label: "Reason (recorded in the audit log)", placeholder: "e.g. PLC maintenance on L2" },
    });
    if (reason === false) return;
    try {
      const body = { enabled };
      if (typeof reason === "string") body.reason = reason;
      const out = await this.api.put("admin/writeback", body);
      this.status.say(`Write-back is ${out.enabled ? "on" : "off"}.`, "ok");
      await Promise.all([this.renderSwitch(), this.renderAudit()]);
      document.getElementById("writeback-toggle").focus();
    } catch (err) {
      this.status.say(errorText(err, "Switching write-back"), "error");
    }
  }

  // ---------------------------------------------------------------- tokens
  async renderTokens() {
    const list = await this.api.get("admin/tokens");
    const name = el("input", { type: "text", id: "token-name", required: true, maxlength: 64, autocomplete: "off" });
    const role = el("select", { id: "token-role" }, ["viewer", "scheduler", "admin"].map((r) => el("option", { value: r }, r)));
    const expiry = el("select", { id: "token-expiry" }, EXPIRY.map(([v, t]) => el("option", { value: v }, t)));
    const result = el("div", { class: "token-result", "aria-live": "polite" });
    const form = el(
      "form",
      { class: "token-form", "aria-label": "Issue a token", onsubmit: (ev) => { ev.preventDefault(); this.issue(name, role, expiry, result); } },
      el("label", { for: "token-name" }, "Name (the audit log's who)", name),
      el("label", { for: "token-role" }, "Role", role),
      el("label", { for: "token-expiry" }, "Expires", expiry),
      el("button", { type: "submit", class: "primary", id: "token-issue" }, "Issue token"),
    );
    const rows = list.items.map((t) => ({
      attrs: { dataset: { token: t.id, state: t.state } },
      cells: [
        { text: t.name, class: `state-${t.state}` },
        t.role,
        el("code", null, t.id),
        `${utcTime(t.created_at)} by ${t.created_by}`,
        t.expires_at ? utcTime(t.expires_at) : "never",
        t.state === "revoked" ? `revoked by ${t.revoked_by}` : t.state,
        t.state === "active"
          ? el("button", { type: "button", class: "revoke", "aria-label": `Revoke token ${t.name}`, onclick: () => this.revoke(t) }, "Revoke…")
          : "",
      ],
    }));
    const configured = Object.entries(list.configured).map(([r, n]) => `${n} ${r}`).join(", ");
    replace(
      this.tokenBox,
      form,
      result,
      rows.length ? table(["Name", "Role", "Id", "Issued", "Expires", "State", ""], rows, { class: "tokens", label: "Issued tokens" })
        : el("p", { class: "empty" }, "No tokens issued here yet."),
      el("p", { class: "hint" }, `The tokens file holds ${configured} (change those in the file: twin token new ROLE).`),
    );
  }

  async issue(name, role, expiry, result) {
    const body = { name: name.value.trim(), role: role.value };
    if (expiry.value) body.expires_in_s = Number(expiry.value);
    try {
      const t = await this.api.post("admin/tokens", body);
      await this.renderTokens();
      const shown = el("input", { type: "text", readonly: true, id: "new-token", value: t.token, "aria-label": `The new token of ${t.name}` });
      const box = el(
        "div",
        { class: "new-token", role: "status" },
        el("p", null, el("strong", null, `Token for ${t.name} (${t.role})`), " — copy it now, it is not shown again:"),
        shown,
        el("p", { class: "hint" }, "Sign in with it, or open the console at /#token=<token> (the fragment never reaches the server)."),
      );
      const slot = this.tokenBox.querySelector(".token-result");
      replace(slot, box);
      shown.focus();
      shown.select();
      this.status.say(`Issued token ${t.id} for ${t.name}.`, "ok");
      this.renderAudit().catch(() => {});
    } catch (err) {
      replace(result, el("p", { class: "message error", role: "alert" }, errorText(err, "Issuing the token")));
      name.focus();
    }
  }

  async revoke(t) {
    const ok = await confirmDialog({
      title: `Revoke the token of ${t.name}?`,
      body: `Every request with token ${t.id} (${t.role}) is refused from now on; a console signed in with it signs out.`,
      confirm: "Revoke",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.api.delete(`admin/tokens/${t.id}`);
      this.status.say(`Revoked ${t.id} (${t.name}).`, "ok");
      await Promise.all([this.renderTokens(), this.renderAudit()]);
    } catch (err) {
      this.status.say(errorText(err, "Revoking"), "error");
    }
  }

  // ---------------------------------------------------------------- data sources
  async renderSources() {
    const out = await this.api.get("admin/sources");
    const rows = out.lines.map((ls) => ({
      attrs: { dataset: { line: ls.line } },
      cells: [
        ls.name ? `${ls.line} · ${ls.name}` : ls.line,
        ls.endpoint ? el("code", null, ls.endpoint) : "none in the plant file",
        { text: `${num(ls.tags_defined)}`, class: "num" },
        { node: stackBar(Object.entries(ls.tags).map(([q, n]) => ({ label: q, value: n, colour: QUALITY_COLOURS[q] || "#8C8C8C" })), { label: `tags of ${ls.line} by quality` }) },
        ls.stale_equipment.length ? ls.stale_equipment.join(", ") : "none",
        ls.missing_equipment.length ? ls.missing_equipment.join(", ") : "none",
        ls.age_s === null ? "no data" : duration(ls.age_s),
      ],
    }));
    const t = out.totals;
    replace(
      this.sourceBox,
      el("p", { id: "sources-totals" }, `${num(t.good)} good, ${num(t.uncertain)} uncertain, ${num(t.stale)} stale, ${num(t.bad)} bad, ${num(t.missing)} never received.`),
      table(["Line", "PLC endpoint", "Tags", "By quality", "Stale or bad", "No value yet", "Newest value"], rows, { class: "sources", label: "Data sources per line" }),
      el("p", { class: "hint" }, "Mapping problems (nodes that do not resolve, type or unit mismatches) are reported by the adapter: its log and `twin adapt --check`. Tags that never got a value show here."),
    );
  }

  // ---------------------------------------------------------------- audit log
  async renderAudit() {
    const page = await this.api.get("admin/audit", { limit: AUDIT_PAGE, offset: this.auditOffset });
    const rows = page.items.map((e) => ({
      attrs: { dataset: { action: e.action, result: e.result } },
      cells: [utcTime(Number(e.ts)), e.actor, (e.detail && e.detail.role) || "", e.action, { text: detailText(e.detail), class: "audit-detail" }, e.result],
    }));
    const prev = el("button", { type: "button", id: "audit-newer", disabled: this.auditOffset === 0, onclick: () => this.auditPage(-AUDIT_PAGE) }, "Newer");
    const next = el("button", { type: "button", id: "audit-older", disabled: page.next_offset === null, onclick: () => this.auditPage(AUDIT_PAGE) }, "Older");
    const from = page.total ? this.auditOffset + 1 : 0;
    replace(
      this.auditBox,
      table(["When", "Who", "Role", "Action", "Detail", "Result"], rows, { class: "audit", label: "Audit log" }),
      el("div", { class: "pager" }, prev, next, el("span", { id: "audit-range" }, `${from}–${this.auditOffset + page.items.length} of ${page.total}, newest first`)),
    );
  }

  async auditPage(delta) {
    this.auditOffset = Math.max(0, this.auditOffset + delta);
    await this.renderAudit();
    const same = document.getElementById(delta > 0 ? "audit-older" : "audit-newer");
    const other = document.getElementById(delta > 0 ? "audit-newer" : "audit-older");
    (same && !same.disabled ? same : other).focus(); // at the last page, focus the way back
  }
}

function detailText(detail) {
  const d = { ...(detail || {}) };
  delete d.role;
  const parts = Object.entries(d).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`);
  const text = parts.join(" ");
  return text.length > 240 ? text.slice(0, 239) + "…" : text;
}

/** Mount the Admin view. */
export async function mount(root, ctx) {
  view = new AdminView(root, ctx);
  await view.refresh();
}

/** Shown again: reload. */
export function activate() {
  if (view) view.refresh();
}

/** Sign-out. */
export function unmount() {
  view = null;
}
