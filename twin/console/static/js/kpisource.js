// Where the KPIs view gets its numbers. A source turns a period into a KPI report shaped like
// GET /api/v1/kpi ({start, end, plant, lines, stations}); the view does not care how.
//
// Today's source is the change stream (`GET /kpi?start=&end=`, a few hours back: the stream's
// retention). An archive-backed source (KPIs per shift from Parquet/DuckDB) plugs in by implementing the
// same two functions and being listed in SOURCES before it.

/** Periods to offer at epoch `now`: rolling windows and the shifts from the plant calendar. */
export function periods(calendar, now) {
  const out = [
    { id: "15m", label: "Last 15 min", start: now - 900, end: now },
    { id: "1h", label: "Last hour", start: now - 3600, end: now },
    { id: "4h", label: "Last 4 hours", start: now - 4 * 3600, end: now },
  ];
  const wins = (calendar.windows || []).filter((w) => w.start < now);
  const cur = wins.find((w) => w.start <= now && now < w.end);
  if (cur) out.push({ id: "shift", label: `This shift (${cur.shift}, so far)`, start: cur.start, end: now, shift: cur.shift });
  const past = wins.filter((w) => w.end <= now);
  const prev = past[past.length - 1];
  if (prev) out.push({ id: "prev-shift", label: `Previous shift (${prev.shift})`, start: prev.start, end: prev.end, shift: prev.shift });
  return out;
}

/** The change-stream source: one KPI report per period from GET /kpi. */
export const streamSource = {
  name: "change stream",
  async report(api, period) {
    return api.get("kpi", { start: Math.floor(period.start), end: Math.ceil(period.end) });
  },
};

export const SOURCES = [streamSource];

/**
 * Target throughput per line (cars per wall-clock hour): the current plan's cars on the line's resources
 * over their powered (working) hours, times the plant's time scale (a simulated plant runs faster).
 */
export function targets(plan, resources, timeScale = 1) {
  const out = {};
  if (!plan) return out;
  const perRes = (plan.kpis && plan.kpis.resources) || {};
  const lineOf = new Map(resources.map((r) => [r.id, r.line]));
  const sums = {};
  for (const [rid, k] of Object.entries(perRes)) {
    const line = lineOf.get(rid) || k.line || rid;
    const s = (sums[line] = sums[line] || { cars: 0, hours: 0 });
    s.cars += k.cars || 0;
    s.hours = Math.max(s.hours, k.powered_h || 0); // cells of one block work in parallel
  }
  for (const [line, s] of Object.entries(sums)) out[line] = s.hours > 0 ? (s.cars / s.hours) * timeScale : null;
  return out;
}

/** Top downtime causes: stations x non-running states by seconds, longest first. */
export function downtimeCauses(report, limit = 8) {
  const causes = [];
  for (const [id, k] of Object.entries(report.stations || {})) {
    for (const [state, s] of Object.entries(k.state_s || {})) {
      if (["Running", "Idle"].includes(state) || !(s > 0)) continue;
      causes.push({ station: id, state, seconds: s });
    }
  }
  causes.sort((a, b) => b.seconds - a.seconds || a.station.localeCompare(b.station));
  return causes.slice(0, limit);
}
