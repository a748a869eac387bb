// The lines and their stations with live state, as a list of real buttons (keyboard and screen readers);
// faults and stale values (and their end) are announced through an aria-live region.

import { el, replace } from "./dom.js";

/**
 * mountStations(root, {lines, live, onSelect}) -> {select(id), update(id), destroy()}
 * lines: [{id, name, kind, equipment: [{id, name, type}]}] (from GET /layout).
 */
export function mountStations(root, { lines, live, onSelect }) {
  const buttons = new Map(); // id -> {button, swatch, state, name}
  const announce = el("p", { class: "sr-only", "aria-live": "polite", id: "station-announce" });
  const lists = lines.map((line) => {
    const items = line.equipment.map((eq) => {
      const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
      const state = el("span", { class: "state" }, live.stateText(eq.id));
      const label = eq.name ? `${eq.id} ${eq.name}` : eq.id;
      const button = el(
        "button",
        {
          type: "button",
          class: "station",
          "aria-pressed": "false",
          dataset: { eq: eq.id },
          onclick: () => onSelect(eq.id),
        },
        swatch,
        el("span", { class: "name", title: label }, el("span", { class: "id" }, eq.id), eq.name ? el("span", { class: "long" }, eq.name) : null),
        state,
      );
      buttons.set(eq.id, { button, swatch, state, label, text: null });
      return el("li", null, button);
    });
    const title = line.name ? `${line.id}: ${line.name}` : line.id;
    return [el("h3", { id: `line-${line.id}` }, title), el("ul", { "aria-labelledby": `line-${line.id}` }, items)];
  });
  replace(root, el("h2", null, "Lines and stations"), lists, announce);

  function update(id) {
    const b = buttons.get(id);
    if (!b) return;
    const text = live.stateText(id);
    b.swatch.style.backgroundColor = live.color(id);
    b.state.classList.toggle("stale-text", live.isStale(id));
    if (text !== b.text) {
      // Announce what needs attention (a fault, a value gone stale, and their end), not every change.
      const notable = (t) => t !== null && (t.startsWith("Fault") || t.endsWith("(stale)"));
      if (b.text !== null && (notable(text) || notable(b.text))) announce.textContent = `${b.label}: ${text}`;
      b.text = text;
      b.state.textContent = text;
    }
  }
  for (const id of buttons.keys()) update(id);
  return {
    update,
    select(id) {
      for (const [k, b] of buttons) b.button.setAttribute("aria-pressed", k === id ? "true" : "false");
    },
    focus(id) {
      buttons.get(id)?.button.focus();
    },
    destroy() {
      replace(root);
    },
  };
}
