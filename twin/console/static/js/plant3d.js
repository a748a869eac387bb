// The plant in 3D, rendered in this browser with three.js (WebGL): every piece of equipment where
// GET /layout puts it, coloured by live state; the cars a station holds and cars travelling on when its
// part counter goes up; buffer fill levels; labels and legend as HTML text; an own camera (OrbitControls)
// per browser. Frames are drawn on demand (a change, a camera move, a travelling car), never in a loop.

import * as THREE from "../vendor/three/three.module.min.js";
import { OrbitControls } from "../vendor/three/OrbitControls.js";
import { el } from "./dom.js";

const TRAVEL_MS = 1500; // a car takes this long from a station to the next equipment
const MAX_TRAVELLERS = 48;
const MAX_STATION_LABELS = 120;
const CLICK_SLOP_PX = 5;

function boxMatrix(box, m = new THREE.Matrix4()) {
  // The unit box has its base on the origin; layout boxes are a base centre, a size and a yaw (degrees).
  const q = new THREE.Quaternion().setFromAxisAngle(new THREE.Vector3(0, 0, 1), THREE.MathUtils.degToRad(box.yaw));
  return m.compose(new THREE.Vector3(...box.base), q, new THREE.Vector3(...box.size));
}

function unitBox() {
  const g = new THREE.BoxGeometry(1, 1, 1);
  g.translate(0, 0, 0.5);
  return g;
}

function instanced(geometry, material, boxes) {
  const mesh = new THREE.InstancedMesh(geometry, material, Math.max(1, boxes.length));
  mesh.count = boxes.length;
  boxes.forEach((b, i) => mesh.setMatrixAt(i, boxMatrix(b)));
  mesh.instanceMatrix.needsUpdate = true;
  return mesh;
}

function modelColours(palette) {
  return new Map(palette.models.map((m) => [m.id, new THREE.Color(m.hex)]));
}

/**
 * Lights chosen so a top face (normal +z) shows the state colour exactly: ambient + light from above = 1
 * (three.js lights are physical: a Lambert surface under intensity pi reflects its own colour).
 */
function addLights(scene) {
  scene.add(new THREE.AmbientLight(0xffffff, 0.62 * Math.PI));
  const sun = new THREE.DirectionalLight(0xffffff, 0.38 * Math.PI);
  sun.position.set(0, 0, 1);
  scene.add(sun);
}

function floorAndGrid(layout) {
  const [x0, x1, y0, y1] = layout.bounds;
  const floor = new THREE.Mesh(
    new THREE.PlaneGeometry(x1 - x0, y1 - y0),
    new THREE.MeshBasicMaterial({ color: layout.palette.floor.hex }),
  );
  floor.position.set((x0 + x1) / 2, (y0 + y1) / 2, -0.01);
  const pts = [];
  for (const [ax, ay, bx, by] of layout.grid) pts.push(ax, ay, 0, bx, by, 0);
  const g = new THREE.BufferGeometry();
  g.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
  const grid = new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: layout.palette.grid.hex }));
  return [floor, grid];
}

class Travellers {
  constructor(scene, geometry, carSize) {
    this.mesh = new THREE.InstancedMesh(geometry, new THREE.MeshLambertMaterial(), MAX_TRAVELLERS);
    this.mesh.count = 0;
    this.mesh.frustumCulled = false;
    this.carSize = carSize;
    this.active = []; // {from, route, t0, colour}
    scene.add(this.mesh);
  }

  start(from, route, colour, now) {
    if (this.active.length >= MAX_TRAVELLERS) this.active.shift();
    this.active.push({ from, route: route.map((p) => new THREE.Vector3(...p)), t0: now, colour });
  }

  /** Move every car; returns true while any is still on its way. */
  advance(now) {
    this.active = this.active.filter((c) => now - c.t0 < TRAVEL_MS);
    const m = new THREE.Matrix4();
    this.active.forEach((c, i) => {
      const [p, yaw] = along(c.route, (now - c.t0) / TRAVEL_MS);
      boxMatrix({ base: [p.x, p.y, p.z], size: this.carSize, yaw }, m);
      this.mesh.setMatrixAt(i, m);
      this.mesh.setColorAt(i, c.colour);
    });
    this.mesh.count = this.active.length;
    this.mesh.instanceMatrix.needsUpdate = true;
    if (this.mesh.instanceColor) this.mesh.instanceColor.needsUpdate = true;
    return this.active.length > 0;
  }

  positions(now) {
    return this.active.map((c) => ({ from: c.from, at: along(c.route, (now - c.t0) / TRAVEL_MS)[0].toArray() }));
  }
}

/** The point a fraction f along a two-leg route, and the yaw (degrees) of the leg it is on. */
function along(route, f) {
  const [a, b, c] = route;
  const l1 = a.distanceTo(b);
  const l2 = b.distanceTo(c);
  const d = Math.min(Math.max(f, 0), 1) * Math.max(l1 + l2, 1e-9);
  const [from, to, u] = d <= l1 ? [a, b, d / Math.max(l1, 1e-9)] : [b, c, (d - l1) / Math.max(l2, 1e-9)];
  const p = from.clone().lerp(to, u);
  return [p, THREE.MathUtils.radToDeg(Math.atan2(to.y - from.y, to.x - from.x))];
}

function legend(palette) {
  return el(
    "div",
    { class: "legend", role: "group", "aria-label": "State colours" },
    el(
      "ul",
      null,
      palette.legend.map((row) =>
        el("li", null, el("span", { class: "swatch", style: { backgroundColor: row.hex } }), row.label),
      ),
    ),
  );
}

class PlantScene {
  constructor(root, { layout, live, onSelect }) {
    this.root = root;
    this.layout = layout;
    this.live = live;
    this.onSelect = onSelect;
    this.equipment = layout.equipment;
    this.index = new Map(this.equipment.map((e, i) => [e.id, i]));
    this.dirty = new Set(this.equipment.map((e) => e.id));
    this.lastCount = new Map();
    this.painted = []; // {eq, value, at} per state change drawn (benchmarks read it)
    this.frames = 0;
    this._build();
    this._wire();
    this.resize();
    this.offLive = live.onChange((id, change, meta) => this._changed(id, change, meta));
  }

  _build() {
    const { layout } = this;
    this.renderer = new THREE.WebGLRenderer({ antialias: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.canvas = this.renderer.domElement;
    this.canvas.setAttribute("aria-hidden", "true"); // the station list beside it is the accessible view
    this.labels = el("div", { class: "labels", "aria-hidden": "true" });
    this.hint = el("div", { class: "hint" }, "drag: rotate · right-drag: pan · wheel: zoom · click: station");
    this.banner = el("div", { class: "not-available scene-error", role: "status", hidden: true });
    this.root.append(this.canvas, this.labels, legend(layout.palette), this.hint, this.banner);

    const scene = (this.scene = new THREE.Scene());
    scene.background = new THREE.Color("#eef0f3");
    addLights(scene);
    scene.add(...floorAndGrid(layout));
    const box = (this.boxGeometry = unitBox());
    this.bodies = instanced(box, new THREE.MeshLambertMaterial(), this.equipment.map((e) => e.body));
    this.equipment.forEach((_e, i) => this.bodies.setColorAt(i, new THREE.Color(layout.palette.stale.hex)));
    scene.add(this.bodies);
    const conveyor = new THREE.MeshLambertMaterial({ color: layout.palette.conveyor.hex });
    if (layout.belts.length) scene.add(instanced(box, conveyor, layout.belts));
    const aisle = new THREE.MeshLambertMaterial({ color: layout.palette.agv_path.hex });
    if (layout.aisles.length) scene.add(instanced(box, aisle, layout.aisles));
    this._buildMarkers(box);
    this.travellers = new Travellers(scene, box, layout.cars.size);
    this.models = modelColours(layout.palette);
    this.unknownModel = new THREE.Color("#fafafa");
    this.outline = new THREE.LineSegments(
      new THREE.EdgesGeometry(box),
      new THREE.LineBasicMaterial({ color: "#0a58ca", linewidth: 2 }),
    );
    this.outline.visible = false;
    scene.add(this.outline);
    this._buildLabels();
    this._buildCamera();
  }

  _buildMarkers(box) {
    const withPart = this.equipment.filter((e) => e.part);
    this.partSlot = new Map(withPart.map((e, k) => [e.id, k]));
    this.parts = instanced(box, new THREE.MeshLambertMaterial(), withPart.map((e) => e.part));
    this.partShown = withPart.map(() => true);
    withPart.forEach((e, k) => this._showPart(k, e, false));
    this.scene.add(this.parts);
    const withFill = this.equipment.filter((e) => e.fill);
    this.fillSlot = new Map(withFill.map((e, k) => [e.id, k]));
    this.fills = instanced(box, new THREE.MeshLambertMaterial({ color: this.layout.palette.fill.hex }), withFill.map((e) => e.fill));
    this.scene.add(this.fills);
  }

  _buildLabels() {
    const items = [];
    for (const line of this.layout.lines) items.push({ at: line.label.at, text: line.label.text, cls: "label line-label" });
    if (this.equipment.length <= MAX_STATION_LABELS) {
      for (const e of this.equipment) items.push({ at: e.label_at, text: e.id, cls: "label" });
    }
    this.labelItems = items.map((it) => {
      const node = el("span", { class: it.cls }, it.text);
      this.labels.appendChild(node);
      return { node, at: new THREE.Vector3(...it.at) };
    });
  }

  _buildCamera() {
    const [x0, x1, y0, y1] = this.layout.bounds;
    this.centre = new THREE.Vector3((x0 + x1) / 2, (y0 + y1) / 2, 0);
    this.camera = new THREE.PerspectiveCamera(35, 1, 0.5, 20 * Math.max(x1 - x0, y1 - y0, 10));
    this.camera.up.set(0, 0, 1);
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.target.copy(this.centre);
    this.controls.maxPolarAngle = Math.PI * 0.49;
    this.controls.addEventListener("change", () => this.requestFrame());
    this.controls.addEventListener("start", () => {
      this.userMoved = true; // from now on a resize keeps the user's camera
    });
    this.userMoved = false;
  }

  /** From the front (-y) and above, as the desktop viewer's default camera, at a distance that fits the hall. */
  fit() {
    const [x0, x1, y0, y1] = this.layout.bounds;
    // The hall's bounding circle must fit the narrower field of view (flat floor: 0.72 of the sphere's).
    const r = Math.hypot(x1 - x0, y1 - y0) / 2;
    const vHalf = THREE.MathUtils.degToRad(this.camera.fov / 2);
    const hHalf = Math.atan(Math.tan(vHalf) * this.camera.aspect);
    const d = Math.max(8, (0.72 * r) / Math.sin(Math.min(vHalf, hHalf)));
    const elev = THREE.MathUtils.degToRad(50);
    this.camera.position.set(this.centre.x, this.centre.y - d * Math.cos(elev), d * Math.sin(elev));
    this.controls.target.copy(this.centre);
    this.controls.update();
  }

  _wire() {
    let down = null;
    this.canvas.addEventListener("pointerdown", (ev) => {
      down = { x: ev.clientX, y: ev.clientY };
    });
    this.canvas.addEventListener("pointerup", (ev) => {
      if (!down || Math.hypot(ev.clientX - down.x, ev.clientY - down.y) > CLICK_SLOP_PX) return;
      const id = this.pick(ev.clientX, ev.clientY);
      if (id !== null) this.onSelect(id);
    });
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.root);
  }

  /** The equipment id under a page position (client pixels), or null. */
  pick(clientX, clientY) {
    const r = this.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const hit = ray.intersectObject(this.bodies, false)[0];
    return hit && hit.instanceId !== undefined ? this.equipment[hit.instanceId].id : null;
  }

  _changed(id, change, meta) {
    if (!this.index.has(id)) return;
    this.dirty.add(id);
    if (change && change.tag === "part_count") this._counted(id, change.value);
    if (change && change.tag === "state") {
      // Kept for benchmarks: the stream id's milliseconds are when Redis stored the change.
      (this.pendingPaint || (this.pendingPaint = [])).push({ eq: id, value: change.value, id: meta ? meta.id : null });
    }
    this.requestFrame();
  }

  _counted(id, count) {
    if (typeof count !== "number") return;
    const before = this.lastCount.get(id);
    this.lastCount.set(id, count);
    const e = this.equipment[this.index.get(id)];
    if (before !== undefined && count > before && e.route) {
      this.travellers.start(id, e.route, this._modelColour(id), performance.now());
    }
  }

  _modelColour(id) {
    return this.models.get(this.live.value(id, "model")) || this.unknownModel;
  }

  _showPart(k, e, shown) {
    if (this.partShown[k] === shown) return;
    this.partShown[k] = shown;
    const box = shown ? e.part : { ...e.part, size: [0, 0, 0] };
    this.parts.setMatrixAt(k, boxMatrix(box));
    this.parts.instanceMatrix.needsUpdate = true;
  }

  _apply() {
    const colour = new THREE.Color();
    const hold = new Set(this.layout.cars.hold_states);
    for (const id of this.dirty) {
      const i = this.index.get(id);
      const e = this.equipment[i];
      this.bodies.setColorAt(i, colour.set(this.live.color(id)));
      const k = this.partSlot.get(id);
      if (k !== undefined) {
        const s = this.live.state(id);
        this._showPart(k, e, !this.live.isStale(id) && s !== null && hold.has(s.name));
        this.parts.setColorAt(k, this._modelColour(id));
        if (this.lastCount.get(id) === undefined) {
          const c = this.live.value(id, "part_count");
          if (typeof c === "number") this.lastCount.set(id, c);
        }
      }
      const f = this.fillSlot.get(id);
      if (f !== undefined) this._setFill(f, e);
    }
    this.dirty.clear();
    this.bodies.instanceColor.needsUpdate = true;
    if (this.parts.instanceColor) this.parts.instanceColor.needsUpdate = true;
  }

  _setFill(k, e) {
    const level = this.live.value(e.id, "level");
    const frac = typeof level === "number" ? Math.min(Math.max(level / (e.capacity || 1), 0), 1) : 0;
    const size = [e.fill.size[0], e.fill.size[1], Math.max(frac, 0.02) * e.fill.max_h];
    this.fills.setMatrixAt(k, boxMatrix({ ...e.fill, size }));
    this.fills.instanceMatrix.needsUpdate = true;
  }

  requestFrame() {
    if (this.frameRequested || this.destroyed) return;
    if (this.root.offsetParent === null) return; // another tab is shown: resize() on return draws again
    this.frameRequested = true;
    requestAnimationFrame(() => this._frame());
  }

  _frame() {
    this.frameRequested = false;
    if (this.destroyed) return;
    const now = performance.now();
    if (this.dirty.size) this._apply();
    const moving = this.travellers.advance(now);
    this.renderer.render(this.scene, this.camera);
    this._placeLabels();
    this.frames += 1;
    if (this.frames === 1) window.__twin.firstPaint = performance.now(); // ms after navigation start
    if (this.pendingPaint) {
      const at = performance.timeOrigin + performance.now();
      for (const p of this.pendingPaint) this.painted.push({ ...p, at });
      if (this.painted.length > 5000) this.painted.splice(0, this.painted.length - 5000);
      this.pendingPaint = null;
    }
    if (moving) this.requestFrame();
  }

  _placeLabels() {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const v = new THREE.Vector3();
    for (const it of this.labelItems) {
      v.copy(it.at).project(this.camera);
      const visible = v.z < 1 && Math.abs(v.x) <= 1.05 && Math.abs(v.y) <= 1.05;
      it.node.hidden = !visible;
      if (visible) it.node.style.transform = `translate(${((v.x + 1) / 2) * w}px, ${((1 - v.y) / 2) * h}px) translate(-50%, -100%)`;
    }
  }

  resize() {
    const w = Math.max(1, this.root.clientWidth);
    const h = Math.max(1, this.root.clientHeight);
    this.renderer.setSize(w, h, true);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    if (!this.userMoved && w > 1 && h > 1) this.fit();
    this.requestFrame();
  }

  select(id) {
    const i = id === null ? undefined : this.index.get(id);
    this.outline.visible = i !== undefined;
    if (i !== undefined) {
      const b = this.equipment[i].body;
      boxMatrix({ ...b, size: b.size.map((s) => s * 1.04 + 0.1) }, this.outline.matrix);
      this.outline.matrixAutoUpdate = false;
    }
    this.requestFrame();
  }

  /**
   * Page position (CSS pixels, like a screenshot at device pixel ratio 1) of a spot on the top face of an
   * equipment that shows its state colour (front-right corner area, clear of the car marker on it).
   */
  project(id) {
    const i = this.index.get(id);
    if (i === undefined) return null;
    const b = this.equipment[i].body;
    const yaw = THREE.MathUtils.degToRad(b.yaw);
    const e = this.equipment[i];
    const dx = 0.38 * b.size[0];
    const dy = (e.fill ? -0.44 : -0.36) * b.size[1]; // in front of a buffer's fill column
    const p = new THREE.Vector3(
      b.base[0] + dx * Math.cos(yaw) - dy * Math.sin(yaw),
      b.base[1] + dx * Math.sin(yaw) + dy * Math.cos(yaw),
      b.base[2] + b.size[2],
    ).project(this.camera);
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + ((p.x + 1) / 2) * r.width, y: r.top + ((1 - p.y) / 2) * r.height, visible: p.z < 1 };
  }

  /** Turn the camera about the target (tests: two browsers rotate independently). */
  rotate(degrees) {
    this.userMoved = true;
    const offset = this.camera.position.clone().sub(this.controls.target);
    offset.applyAxisAngle(new THREE.Vector3(0, 0, 1), THREE.MathUtils.degToRad(degrees));
    this.camera.position.copy(this.controls.target).add(offset);
    this.controls.update();
    this.requestFrame();
  }

  cameraState() {
    return { position: this.camera.position.toArray(), target: this.controls.target.toArray() };
  }

  showBanner(text) {
    this.banner.hidden = !text;
    this.banner.textContent = text || "";
  }

  destroy() {
    this.destroyed = true;
    this.offLive();
    this.resizeObserver.disconnect();
    this.controls.dispose();
    this.renderer.dispose();
  }
}

/** Mount the 3D view into root; returns {select(id), resize(), destroy(), ...} (also on window.__twin). */
export function mountScene(root, options) {
  const probe = document.createElement("canvas");
  if (!probe.getContext("webgl2") && !probe.getContext("webgl")) {
    throw new Error("this browser has no WebGL");
  }
  const view = new PlantScene(root, options);
  const hooks = window.__twin || (window.__twin = {});
  hooks.project = (id) => view.project(id);
  hooks.rotate = (deg) => view.rotate(deg);
  hooks.camera = () => view.cameraState();
  hooks.painted = () => view.painted;
  hooks.frames = () => view.frames;
  hooks.travellers = () => view.travellers.positions(performance.now());
  hooks.pick = (x, y) => view.pick(x, y);
  return view;
}
