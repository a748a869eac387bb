// The console shell: sign-in (token from the URL fragment or a form, kept in sessionStorage only),
// the tabs Plant | Plans | KPIs | Admin (each a module js/views/<name>.js exporting mount(root, ctx) and
// optionally unmount() and activate()), and sign-out when the API refuses the token.

import { ApiError, createApi, roleAtLeast } from "./api.js";
import { el, replace } from "./dom.js";

const TOKEN_KEY = "twin.token";
const TABS = [
  { name: "plant", label: "Plant", min: "viewer" },
  { name: "plans", label: "Plans", min: "viewer" },
  { name: "kpis", label: "KPIs", min: "viewer" },
  { name: "admin", label: "Admin", min: "admin" },
];
const REFUSED =
  "Your session has ended: the API refused the token (expired or revoked). Sign in with a valid token.";

// Test and diagnostics hooks (no secrets: never the token).
const hooks = (window.__twin = window.__twin || {});
hooks.ready = false;
hooks.views = {};

const app = document.getElementById("app");
let session = null; // {api, views: Map(name -> {module, root, mounted}), current}

/** A token handed over in the URL fragment (#token=...): keep it for this tab, then drop it from the URL. */
function takeFragmentToken() {
  const hash = window.location.hash.slice(1);
  if (!hash.includes("token=")) return null;
  const token = new URLSearchParams(hash).get("token");
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  return token && token.trim() ? token.trim() : null;
}

function showLogin(message, isError = false) {
  hooks.ready = false;
  hooks.signedIn = false;
  const input = el("input", {
    id: "token-input",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "login-message",
  });
  const form = el(
    "form",
    {
      class: "login",
      "aria-label": "Sign in",
      onsubmit: (ev) => {
        ev.preventDefault();
        const token = input.value.trim();
        if (token) signIn(token);
      },
    },
    el("h1", null, "sdf-twin console"),
    el("label", { for: "token-input" }, "API token"),
    input,
    el("button", { type: "submit", class: "primary" }, "Sign in"),
    el(
      "p",
      { id: "login-message", class: isError ? "message error" : "message", role: isError ? "alert" : "status" },
      message || "Paste a token (`twin token new viewer`), or open the link `twin demo` prints.",
    ),
  );
  replace(app, form);
  input.focus();
}

function signOut(message, isError = false) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (session) {
    for (const view of session.views.values()) {
      if (view.module && view.module.unmount) {
        try {
          view.module.unmount();
        } catch (err) {
          console.error(err);
        }
      }
    }
    session.api.feed.close();
    session = null;
  }
  showLogin(message, isError);
}

async function signIn(token) {
  let api;
  try {
    api = await createApi(token, { onUnauthorized: () => signOut(REFUSED, true) });
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    const why = err instanceof ApiError && err.status === 401 ? REFUSED : `Cannot sign in: ${err.message}`;
    showLogin(why, true);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  startSession(api);
}

function feedBadge(api) {
  const badge = el("span", { class: "feed-status", role: "status", "aria-live": "polite" }, "no live feed");
  api.onFeedStatus((s) => {
    badge.textContent = s.connected ? "live" : s.open ? "reconnecting" : "no live feed";
    badge.title = s.reason || "";
    badge.classList.toggle("live", s.connected);
  });
  return badge;
}

function startSession(api) {
  const tabs = TABS.filter((t) => roleAtLeast(api.role, t.min));
  session = { api, views: new Map(), current: null };
  const nav = el("nav", { class: "tabs", role: "tablist", "aria-label": "Views" });
  const main = el("main", { id: "views" });
  for (const tab of tabs) {
    const button = el(
      "button",
      {
        id: `tab-${tab.name}`,
        role: "tab",
        type: "button",
        "aria-controls": `view-${tab.name}`,
        "aria-selected": "false",
        tabindex: "-1",
        onclick: () => selectTab(tab.name),
        onkeydown: (ev) => tabKeys(ev, tabs, tab.name),
      },
      tab.label,
    );
    nav.appendChild(button);
    const root = el("section", {
      id: `view-${tab.name}`,
      class: "view",
      role: "tabpanel",
      "aria-labelledby": `tab-${tab.name}`,
      hidden: true,
    });
    main.appendChild(root);
    session.views.set(tab.name, { tab, button, root, module: null, mounted: false });
  }
  const header = el(
    "header",
    { class: "top" },
    el("span", { class: "brand" }, "sdf-twin"),
    nav,
    el("span", { class: "spacer" }),
    feedBadge(api),
    el("span", { class: "who" }, api.name, " ", el("span", { class: `role role-${api.role}` }, api.role)),
    el("button", { type: "button", id: "sign-out", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
  replace(app, header, main);
  hooks.signedIn = true;
  hooks.role = api.role;
  hooks.tabs = tabs.map((t) => t.name);
  hooks.feed = api.feed;
  const wanted = window.location.hash.slice(1);
  selectTab(session.views.has(wanted) ? wanted : tabs[0].name).then(() => {
    hooks.ready = true;
  });
}

function tabKeys(ev, tabs, name) {
  const i = tabs.findIndex((t) => t.name === name);
  let j = null;
  if (ev.key === "ArrowRight") j = (i + 1) % tabs.length;
  else if (ev.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
  else if (ev.key === "Home") j = 0;
  else if (ev.key === "End") j = tabs.length - 1;
  if (j === null) return;
  ev.preventDefault();
  selectTab(tabs[j].name);
  session.views.get(tabs[j].name).button.focus();
}

function onHash() {
  if (!session) return;
  const token = takeFragmentToken();
  if (token) {
    signOut("");
    signIn(token);
    return;
  }
  const name = window.location.hash.slice(1);
  if (session.views.has(name) && name !== session.current) selectTab(name);
}

function notAvailable(root, label, err) {
  replace(
    root,
    el(
      "div",
      { class: "not-available", role: "status" },
      el("h2", null, `${label} is not available`),
      el("p", null, err && err.message ? err.message : String(err)),
    ),
  );
}

async function selectTab(name) {
  if (!session) return;
  const s = session;
  s.current = name;
  for (const [n, v] of s.views) {
    const on = n === name;
    v.button.setAttribute("aria-selected", on ? "true" : "false");
    v.button.tabIndex = on ? 0 : -1;
    v.root.hidden = !on;
  }
  if (window.location.hash.slice(1) !== name) window.history.replaceState(null, "", "#" + name);
  hooks.tab = name;
  const view = s.views.get(name);
  if (!view.mounted) {
    view.mounted = true;
    const ctx = {
      api: s.api,
      role: s.api.role,
      name: s.api.name,
      can: (min) => s.api.can(min),
      feed: s.api.feed,
      select: (tab) => selectTab(tab),
    };
    try {
      view.module = await import(`./views/${name}.js`);
      await view.module.mount(view.root, ctx);
      hooks.views[name] = "mounted";
    } catch (err) {
      console.error(`view ${name}`, err);
      hooks.views[name] = "not available";
      if (session === s) notAvailable(view.root, view.tab.label, err);
    }
  } else if (view.module && view.module.activate) {
    view.module.activate();
  }
}

function boot() {
  window.addEventListener("hashchange", onHash);
  const fromFragment = takeFragmentToken();
  const token = fromFragment || sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
  else showLogin("");
}

boot();
