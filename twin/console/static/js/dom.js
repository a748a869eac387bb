// DOM helpers that build elements with textContent only (never innerHTML): names and texts from plant
// files and PLCs always end up as text nodes, so `<img onerror=...>` is shown literally.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttrs(node, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class" || key === "className") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value));
    } else if (key === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) {
        if (prop.startsWith("--")) node.style.setProperty(prop, String(v));
        else node.style[prop] = v;
      }
    } else if (key === "dataset" && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
    } else if (key.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`el: ${key} must be a function`);
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * el("button", {class: "primary", onclick: fn, "aria-label": "Re-plan"}, "Re-plan", ...)
 * attrs: class (string or array), style (object), dataset (object), on<event> (function), text,
 * true -> empty attribute, false/null/undefined -> omitted, anything else -> setAttribute(String(value)).
 * children: Nodes, strings/numbers (text nodes), arrays (flattened), null/false (skipped).
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/** Like el() for SVG elements (charts, Gantt): svg("rect", {x: 1, y: 2, width: 3, height: 4}). */
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/** Remove every child of node. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Replace node's children with the given ones. */
export function replace(node, ...children) {
  clear(node);
  append(node, children);
  return node;
}

/** Seconds since epoch ts as a short age text: "3 s", "4 min", "2 h". */
export function ageText(ts, now = Date.now() / 1000) {
  const s = Math.max(0, now - ts);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** Local time of epoch seconds as HH:MM (or HH:MM:SS). */
export function clock(ts, seconds = false) {
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? ":" + pad(d.getSeconds()) : ""}`;
}
