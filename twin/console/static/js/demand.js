// Demand per model (GET /demand), editable by a scheduler (POST /demand, one call per changed model):
// a table of models with what the current plan was made for and what is wanted now.

import { el, replace } from "./dom.js";
import { errorText, num } from "./viewkit.js";

/**
 * demandEditor({api, editable, models, onSaved(changes), say(text, kind)}) -> {node, show(demand, planDemand)}.
 * Only a scheduler (editable) gets inputs and the Save button; a viewer sees the numbers as text.
 */
export function demandEditor({ api, editable, models, onSaved, say }) {
  const body = el("tbody");
  const save = editable ? el("button", { type: "submit", class: "primary", id: "demand-save", disabled: true }, "Save demand") : null;
  const form = el(
    "form",
    { class: "demand", "aria-label": "Demand per model", onsubmit: (ev) => { ev.preventDefault(); submit(); } },
    el(
      "table",
      { class: "data demand-table" },
      el("thead", null, el("tr", null, ["Model", "In the current plan", editable ? "Wanted" : "Wanted now"].map((h) => el("th", { scope: "col" }, h)))),
      body,
    ),
    save ? el("div", { class: "actions" }, save) : null,
  );
  let inputs = new Map();
  let shown = {};

  function changed() {
    const out = [];
    for (const [model, input] of inputs) {
      const v = input.value.trim();
      if (v !== String(shown[model] ?? 0)) out.push([model, v, input]);
    }
    return out;
  }

  function refreshButton() {
    if (save) save.disabled = changed().length === 0;
  }

  async function submit() {
    const todo = changed();
    if (!todo.length) return;
    for (const [, , input] of todo) input.removeAttribute("aria-invalid");
    const done = [];
    for (const [model, text, input] of todo) {
      if (!/^\d+$/.test(text)) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
        say(`Demand for ${model} must be a whole number ≥ 0, got "${text}"`, "error");
        return;
      }
      try {
        await api.post("demand", { model, quantity: Number(text) });
        done.push([model, Number(text)]);
      } catch (err) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
        say(errorText(err, `Setting the demand for ${model}`), "error");
        if (done.length) onSaved(done);
        return;
      }
    }
    say(`Demand saved: ${done.map(([m, q]) => `${m} ${q}`).join(", ")}. Re-plan to see what it changes.`, "ok");
    onSaved(done);
  }

  function show(demand, planDemand) {
    shown = { ...demand };
    inputs = new Map();
    const ids = [...new Set([...models.map((m) => m.id), ...Object.keys(demand)])];
    const names = new Map(models.map((m) => [m.id, m.name || m.id]));
    const rows = ids.map((id) => {
      const label = names.get(id) && names.get(id) !== id ? `${names.get(id)} (${id})` : id;
      let wanted;
      if (editable) {
        const input = el("input", {
          type: "text",
          inputmode: "numeric",
          pattern: "[0-9]*",
          class: "qty",
          id: `demand-${id}`,
          value: String(demand[id] ?? 0),
          "aria-label": `Wanted cars of ${label}`,
          dataset: { model: id },
          oninput: refreshButton,
        });
        inputs.set(id, input);
        wanted = input;
      } else {
        wanted = num(demand[id] ?? 0);
      }
      return el(
        "tr",
        { dataset: { model: id } },
        el("th", { scope: "row" }, label),
        el("td", { class: "num" }, planDemand ? num(planDemand[id] ?? 0) : "–"),
        el("td", { class: "num" }, wanted),
      );
    });
    replace(body, rows);
    refreshButton();
  }

  return { node: form, show };
}
