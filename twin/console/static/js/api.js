// The console's client library: REST calls with the tab's token and the live change feed (WebSocket).
// Only the public API is used, so anything the console does a third-party client can do too.

export const ROLES = ["viewer", "scheduler", "admin"];
const API_PREFIX = "/api/v1/";
const FEED_PATH = "/api/v1/ws/changes";
// Close codes of the feed (twin/api/ws.py).
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_BAD_REQUEST = 4422;

/** An API error from an `{"error": {"code", "message", "field"?}}` body (status 0: network failure). */
export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** True if `role` is at least `min` (viewer < scheduler < admin). */
export function roleAtLeast(role, min) {
  return ROLES.indexOf(role) >= 0 && ROLES.indexOf(role) >= ROLES.indexOf(min);
}

/** Compare two stream ids "ms-seq" (or "ms"): negative, 0 or positive. */
export function compareIds(a, b) {
  const [am, as = "0"] = String(a).split("-");
  const [bm, bs = "0"] = String(b).split("-");
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

function apiUrl(base, path, params) {
  const rel = path.startsWith("/") ? path : API_PREFIX + path;
  const url = new URL(base + rel, window.location.href);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(v));
  }
  return url;
}

async function errorFrom(resp) {
  let code = `http_${resp.status}`;
  let message = `${resp.status} ${resp.statusText}`;
  let field = null;
  try {
    const body = await resp.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      field = body.error.field || null;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(resp.status, code, message, field);
}

/**
 * The live change feed: one WebSocket, opened on the first subscribe, resumed with `after=<last id>`
 * after a reconnect; entries already delivered are skipped, so every change reaches subscribers once.
 */
class Feed {
  constructor(token, base, onUnauthorized, filter = {}, onAnyStatus = () => {}) {
    this._filter = filter;
    this._onAnyStatus = onAnyStatus;
    this._token = token;
    this._base = base;
    this._onUnauthorized = onUnauthorized;
    this._subs = new Set();
    this._statusSubs = new Set();
    this._ws = null;
    this._timer = null;
    this._closed = false;
    this._retries = 0;
    this.lastId = null;
    this.connected = false;
    this.reconnects = 0;
    this.received = 0; // changes delivered
    this.bytes = 0; // message bytes received
  }

  /** fn({equipment, tag, value, quality, ts}, {id, src}) per change; returns an unsubscribe function. */
  subscribe(fn) {
    this._subs.add(fn);
    this._ensureOpen();
    return () => this._subs.delete(fn);
  }

  /** fn({connected, lastId, reconnects, reason}) whenever the connection state changes. */
  onStatus(fn) {
    this._statusSubs.add(fn);
    fn(this._status(""));
    return () => this._statusSubs.delete(fn);
  }

  /** Close for good (logout). */
  close() {
    this._closed = true;
    clearTimeout(this._timer);
    if (this._ws) this._ws.close(1000, "bye");
    this._ws = null;
    this.connected = false;
    this._onAnyStatus(this, null);
  }

  /** Drop the socket as if the network had failed (tests, diagnostics); the feed reconnects and resumes. */
  drop() {
    if (this._ws) this._ws.close(4000, "dropped by the client");
  }

  _status(reason) {
    return { connected: this.connected, lastId: this.lastId, reconnects: this.reconnects, reason };
  }

  _emitStatus(reason) {
    const s = this._status(reason);
    for (const fn of this._statusSubs) fn(s);
    this._onAnyStatus(this, s);
  }

  _ensureOpen() {
    if (this._ws || this._closed || this._timer) return;
    const url = apiUrl(this._base, FEED_PATH, { ...this._filter, ...(this.lastId ? { after: this.lastId } : {}) });
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    // The token travels as a subprotocol, never in the URL (which servers and proxies log).
    const ws = new WebSocket(url, ["twin.v1", "bearer." + this._token]);
    this._ws = ws;
    ws.onmessage = (ev) => this._message(ev.data);
    ws.onclose = (ev) => this._closedBy(ws, ev);
  }

  _message(text) {
    this.bytes += text.length;
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "hello") {
      this.connected = true;
      this._retries = 0;
      if (this.lastId === null) this.lastId = msg.after;
      this._emitStatus("connected");
    } else if (msg.type === "changes") {
      if (this.lastId !== null && compareIds(msg.id, this.lastId) <= 0) return; // already delivered
      this.lastId = msg.id;
      const meta = { id: msg.id, src: msg.src };
      for (const change of msg.changes) {
        this.received += 1;
        for (const fn of this._subs) {
          try {
            fn(change, meta);
          } catch (err) {
            console.error("feed subscriber failed", err);
          }
        }
      }
    } else if (msg.type === "error" && msg.error && msg.error.code === "unauthorized") {
      this._onUnauthorized(new ApiError(401, "unauthorized", msg.error.message));
    }
  }

  _closedBy(ws, ev) {
    if (this._ws !== ws) return;
    this._ws = null;
    this.connected = false;
    if (this._closed) return;
    if (ev.code === CLOSE_UNAUTHORIZED) {
      this._closed = true;
      this._emitStatus(ev.reason || "token refused");
      this._onUnauthorized(new ApiError(401, "unauthorized", ev.reason || "token refused"));
      return;
    }
    if (ev.code === CLOSE_FORBIDDEN || ev.code === CLOSE_BAD_REQUEST) {
      this._closed = true;
      this._emitStatus(ev.reason || `closed (${ev.code})`);
      return;
    }
    this._emitStatus(ev.reason || "connection lost, reconnecting");
    const delay = Math.min(5000, 200 * 2 ** this._retries) * (0.75 + Math.random() / 2);
    this._retries += 1;
    this._timer = setTimeout(() => {
      this._timer = null;
      this.reconnects += 1;
      this._ensureOpen();
    }, delay);
  }
}

/**
 * An API client for one token: `const api = await createApi(token)` asks `GET /api/v1/me` for the
 * token's name and role (throws ApiError 401 if the token is refused).
 * - api.get(path, params), api.post(path, body), api.put(path, body), api.delete(path):
 *   path "plans/current" or "/api/v1/plans/current"; resolve to the parsed JSON; reject with ApiError.
 * - api.role, api.name; api.can(min) -> role at least min.
 * - api.feed: the live change feed of everything (subscribe(fn) -> unsubscribe; opened on first use).
 * - api.openFeed({line, station, tag}): a feed filtered by the server (comma-separated lists); close() it.
 * - api.onFeedStatus(fn): fn({connected, open, reason}) for all feeds together (the header's badge).
 * - options.onUnauthorized(err): called once when the API or the feed refuses the token (401).
 */
export async function createApi(token, options = {}) {
  const base = options.base || "";
  let unauthorizedFired = true; // armed once /me has accepted the token (createApi throws before that)
  const onUnauthorized = (err) => {
    if (unauthorizedFired) return;
    unauthorizedFired = true;
    if (options.onUnauthorized) options.onUnauthorized(err);
  };

  async function request(method, path, params, body) {
    const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(apiUrl(base, path, params), init);
    } catch (err) {
      throw new ApiError(0, "network", `the API cannot be reached (${err.message})`);
    }
    if (!resp.ok) {
      const err = await errorFrom(resp);
      if (resp.status === 401) onUnauthorized(err);
      throw err;
    }
    if (resp.status === 204) return null;
    return resp.json();
  }

  const feeds = new Map(); // open feed -> its last status
  const feedListeners = new Set();
  const feedSummary = (reason = "") => {
    const open = [...feeds.values()];
    return { open: open.length, connected: open.length > 0 && open.every((st) => st.connected), reason };
  };
  const onAnyStatus = (feed, st) => {
    if (st === null) feeds.delete(feed);
    else feeds.set(feed, st);
    const summary = feedSummary(st ? st.reason : "");
    for (const fn of feedListeners) fn(summary);
  };
  const api = {
    get: (path, params) => request("GET", path, params),
    post: (path, body = {}) => request("POST", path, null, body),
    put: (path, body = {}) => request("PUT", path, null, body),
    delete: (path, params) => request("DELETE", path, params),
    role: null,
    name: null,
    can: (min) => roleAtLeast(api.role, min),
    feed: new Feed(token, base, onUnauthorized, {}, onAnyStatus),
    openFeed: (filter) => new Feed(token, base, onUnauthorized, filter, onAnyStatus),
    onFeedStatus: (fn) => {
      feedListeners.add(fn);
      fn(feedSummary());
      return () => feedListeners.delete(fn);
    },
  };
  const me = await api.get("me");
  api.role = me.role;
  api.name = me.name;
  unauthorizedFired = false;
  return api;
}
