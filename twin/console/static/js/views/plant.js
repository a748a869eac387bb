// The Plant view: the plant in 3D (rendered in this browser, own camera), the lines and stations as a
// list, and the panel of the selected station. Geometry and colours come from GET /layout (the same
// layout the desktop viewer draws); live state from GET /stations, then the change feed.

import { LiveModel } from "../live.js";
import { el, replace } from "../dom.js";
import { mountStations } from "../stations.js";

let state = null;

async function allStations(api) {
  const rows = [];
  for (let offset = 0; ; ) {
    const page = await api.get("stations", { limit: 1000, offset });
    rows.push(...page.items);
    if (page.next_offset === null || page.next_offset === undefined) return rows;
    offset = page.next_offset;
  }
}

function feedReady(feed) {
  // Seed after the feed's hello, so every change after the snapshot arrives through the feed.
  return new Promise((resolve) => {
    let off = null;
    const timer = setTimeout(() => {
      if (off) off();
      resolve();
    }, 3000);
    off = feed.onStatus((s) => {
      if (!s.connected) return;
      clearTimeout(timer);
      queueMicrotask(() => off && off());
      resolve();
    });
  });
}

async function mountScene(sceneRoot, layout, live, select) {
  try {
    const { mountScene: mount3d } = await import("../plant3d.js");
    return mount3d(sceneRoot, { layout, live, onSelect: select });
  } catch (err) {
    console.error("3D view", err);
    replace(
      sceneRoot,
      el(
        "div",
        { class: "not-available scene-error", role: "status" },
        el("h2", null, "The 3D view is not available"),
        el("p", null, `${err.message}. The list beside it shows every station's state.`),
      ),
    );
    return null;
  }
}

async function openPanel(panelRoot, ctx, layout, live, id) {
  try {
    const { mountPanel } = await import("../panel.js");
    return mountPanel(panelRoot, { api: ctx.api, layout, live, id, onClose: () => state && state.select(null) });
  } catch (err) {
    replace(panelRoot, el("p", { role: "status" }, `The station panel is not available: ${err.message}`));
    return null;
  }
}

export async function mount(root, ctx) {
  const layout = await ctx.api.get("layout");
  const live = new LiveModel(layout.palette);
  const sceneRoot = el("div", { class: "scene", "aria-label": "Plant in 3D" });
  const listRoot = el("aside", { class: "stations", "aria-label": "Lines and stations" });
  const panelRoot = el("aside", { class: "panel", "aria-label": "Station panel", hidden: true });
  const grid = el("div", { class: "plant" }, sceneRoot, listRoot, panelRoot);
  replace(root, grid);

  // The plant's view follows only the tags it draws; the panel follows every tag of its station.
  const feed = ctx.api.openFeed({ tag: layout.view_tags.join(",") });
  const unsubscribe = feed.subscribe((change, meta) => live.apply(change, meta));
  await feedReady(feed);
  live.seed(await allStations(ctx.api));

  const s = { live, layout, feed, selected: null, panel: null, scene: null, list: null, unsubscribe };
  state = s;
  s.select = async (id) => {
    if (state !== s) return;
    s.selected = id;
    s.list.select(id);
    if (s.scene) s.scene.select(id);
    if (s.panel) s.panel.destroy();
    s.panel = null;
    panelRoot.hidden = id === null;
    grid.classList.toggle("with-panel", id !== null);
    if (id !== null) s.panel = await openPanel(panelRoot, ctx, layout, live, id);
    else s.list.focus(s.lastSelected);
    if (id !== null) s.lastSelected = id;
    if (s.scene) s.scene.resize();
  };
  s.list = mountStations(listRoot, { lines: layout.lines, live, onSelect: (id) => s.select(id) });
  s.offLive = live.onChange((id) => s.list.update(id));
  s.scene = await mountScene(sceneRoot, layout, live, (id) => s.select(id));
  s.offStatus = feed.onStatus((st) => {
    if (s.scene) s.scene.showBanner(st.connected ? "" : `Live feed lost (${st.reason || "offline"}): reconnecting; colours may be out of date.`);
    listRoot.classList.toggle("feed-lost", !st.connected);
  });
  window.__twin.plant = { live, feed, select: (id) => s.select(id), selected: () => s.selected };
}

export function activate() {
  if (state && state.scene) state.scene.resize();
}

export function unmount() {
  if (!state) return;
  state.unsubscribe();
  state.feed.close();
  state.offLive();
  if (state.offStatus) state.offStatus();
  if (state.scene) state.scene.destroy();
  if (state.panel) state.panel.destroy();
  state = null;
}
