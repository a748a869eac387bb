// Live state of every piece of equipment in this browser: seeded from GET /stations, kept current by the
// change feed. Colours and state names come from the palette GET /layout serves (the viewer's palette).

const NOT_LIVE = new Set(["stale", "bad"]);

/** Worst-first order of qualities. */
const QUALITY_RANK = { good: 0, uncertain: 1, stale: 2, bad: 3 };

export class LiveModel {
  /** palette: the `palette` object of GET /api/v1/layout. */
  constructor(palette) {
    this.palette = palette;
    this.values = new Map(); // equipment -> Map(tag -> {value, quality, ts})
    this._listeners = new Set();
    this._byName = new Map();
    palette.states.forEach((s, code) => {
      this._byName.set(s.name.toLowerCase(), s);
      this._byName.set(String(code), s);
    });
  }

  /** fn(equipmentId, change, meta) after each applied change (change null after a seed); returns an
   * unsubscribe function. meta is the feed's {id, src} of the stream entry. */
  onChange(fn) {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  /** Seed from GET /stations rows (value + the row's worst quality per tag); newer feed values win. */
  seed(rows) {
    const skip = new Set(["id", "type", "line", "quality", "updated", "name"]);
    for (const row of rows) {
      const tags = this._tags(row.id);
      const ts = row.updated || 0;
      for (const [tag, value] of Object.entries(row)) {
        if (skip.has(tag)) continue;
        if (value === null && tag === "state" && !tags.has("state")) continue;
        const have = tags.get(tag);
        if (have && have.ts > ts) continue;
        tags.set(tag, { value, quality: row.quality || "good", ts });
      }
      for (const fn of this._listeners) fn(row.id, null);
    }
  }

  /** One change from the feed. */
  apply(change, meta = null) {
    this._tags(change.equipment).set(change.tag, { value: change.value, quality: change.quality, ts: change.ts });
    for (const fn of this._listeners) fn(change.equipment, change, meta);
  }

  _tags(eq) {
    let tags = this.values.get(eq);
    if (!tags) {
      tags = new Map();
      this.values.set(eq, tags);
    }
    return tags;
  }

  /** Quality of an equipment's state (as the desktop viewer): the state tag's, else stale if any tag is. */
  quality(eq) {
    const tags = this.values.get(eq);
    if (!tags || tags.size === 0) return null;
    const st = tags.get("state");
    if (st) return NOT_LIVE.has(st.quality) ? "stale" : st.quality;
    for (const t of tags.values()) if (NOT_LIVE.has(t.quality)) return "stale";
    return "good";
  }

  /** Worst quality of any tag ("stale" with no data). */
  worstQuality(eq) {
    const tags = this.values.get(eq);
    if (!tags || tags.size === 0) return "stale";
    let worst = "good";
    for (const t of tags.values()) if ((QUALITY_RANK[t.quality] ?? 3) > QUALITY_RANK[worst]) worst = t.quality;
    return worst;
  }

  value(eq, tag) {
    const t = this.values.get(eq)?.get(tag);
    return t ? t.value : undefined;
  }

  /** The palette's state entry {name, rgb, hex} of a state value (a name or a code), or null. */
  stateOf(v) {
    if (v === undefined || v === null || typeof v === "boolean") return null;
    return this._byName.get(String(v).trim().toLowerCase()) || null;
  }

  /** The palette's state entry of the equipment's state, or null. */
  state(eq) {
    return this.stateOf(this.value(eq, "state"));
  }

  /** Colour as "#rrggbb": the state's, or the stale colour when not live or unknown. */
  color(eq) {
    const q = this.quality(eq);
    const s = this.state(eq);
    if (q === null || NOT_LIVE.has(q) || !s) return this.palette.stale.hex;
    return s.hex;
  }

  /** State as a word for lists ("Running", "Fault (stale)", "no data"). */
  stateText(eq) {
    const q = this.quality(eq);
    if (q === null) return "no data";
    const s = this.state(eq);
    const name = s ? s.name : "-";
    return NOT_LIVE.has(q) ? `${name} (stale)` : name;
  }

  isStale(eq) {
    const q = this.quality(eq);
    return q === null || NOT_LIVE.has(q);
  }
}
