// A confirm dialog in the page (a modal <dialog>, never window.confirm): focus moves into it (on Cancel,
// so Enter never confirms by accident), Tab stays inside, Escape cancels, and focus returns to what had
// it. Resolves true (confirmed) or false. Texts are text nodes.

import { el } from "./dom.js";

let open = null;

/**
 * await confirmDialog({title, body: string | Node | [..], confirm: "Dispatch", danger: false,
 * input: {label, placeholder}}) -> false, or true (or the input's text when `input` is given).
 */
export function confirmDialog({ title, body, confirm = "Confirm", danger = false, input = null }) {
  if (open) open.close("cancel");
  const before = document.activeElement;
  const field = input ? el("input", { type: "text", id: "confirm-input", placeholder: input.placeholder || "", maxlength: 500 }) : null;
  const cancelBtn = el("button", { type: "button", class: "cancel", value: "cancel" }, "Cancel");
  const okBtn = el("button", { type: "button", class: danger ? "danger confirm" : "primary confirm", value: "ok" }, confirm);
  const titleId = `confirm-title-${Date.now()}`;
  const dialog = el(
    "dialog",
    { class: "confirm-dialog", "aria-labelledby": titleId, "aria-modal": "true" },
    el("h2", { id: titleId }, title),
    el("div", { class: "confirm-body" }, body),
    field ? el("label", { for: "confirm-input", class: "confirm-label" }, input.label, field) : null,
    el("div", { class: "confirm-actions" }, cancelBtn, okBtn),
  );
  document.body.append(dialog);
  open = dialog;
  return new Promise((resolve) => {
    const done = (ok) => {
      if (dialog.open) dialog.close(ok ? "ok" : "cancel");
    };
    cancelBtn.addEventListener("click", () => done(false));
    okBtn.addEventListener("click", () => done(true));
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok";
      const text = field ? field.value.trim() : "";
      dialog.remove();
      if (open === dialog) open = null;
      if (before && before.focus && document.contains(before)) before.focus();
      resolve(ok ? (field ? text || true : true) : false);
    });
    dialog.addEventListener("keydown", (ev) => {
      if (ev.key !== "Tab") return;
      const focusable = [field, cancelBtn, okBtn].filter(Boolean);
      const i = focusable.indexOf(document.activeElement);
      const j = ev.shiftKey ? (i <= 0 ? focusable.length - 1 : i - 1) : (i + 1) % focusable.length;
      ev.preventDefault();
      focusable[j].focus();
    });
    dialog.showModal();
    (field || cancelBtn).focus();
  });
}
