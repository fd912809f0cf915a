/**
 * telegraphy.js: the browser (and Node) client of a Telegraphy gateway.
 *
 * One small ES module on AutobahnJS (WAMP v2), no framework, no build step.
 * In a page, load AutobahnJS first (it defines the global `autobahn`):
 *
 *     <script src="/static/telegraphy/autobahn.min.js"></script>
 *     <script type="module">
 *       import { Telegraphy } from "/static/telegraphy/telegraphy.js";
 *       const client = Telegraphy.fromPage();
 *       client.subscribe("blog.post.created", (data) => console.log(data.title));
 *     </script>
 *
 * In Node, pass the npm `autobahn` module: `Telegraphy.connect({url, autobahn})`.
 *
 * What it adds to AutobahnJS (DESIGN.md §2.7): its own reconnect with capped
 * exponential backoff and full jitter, re-subscription of every live
 * subscription after a reconnect, the ws-token / resume-token handshake
 * (§2.4), durable subscriptions (`persistent`, `since`, explicit gaps through
 * `ongap`, §2.3), dedupe by publication id and batched automatic acks of
 * guaranteed events (§2.6), and one connection-state callback. See
 * docs/client.md.
 *
 * @module telegraphy
 */

/**
 * Connection states, in the order a client normally goes through them.
 * `connecting` until the first session opens, `open` while a session is
 * open (and every live subscription has been re-sent), `reconnecting`
 * after a session was lost, `closed` after {@link TelegraphyClient#close}.
 * @typedef {"connecting"|"open"|"reconnecting"|"closed"} TelegraphyState
 */

/**
 * Reconnect policy. Delay before attempt n (0-based) is
 * `random() * min(maxDelay, initialDelay * factor ** n)` seconds ("full
 * jitter"), or without the random factor when `jitter` is false. The
 * attempt counter goes back to 0 once a session opens.
 * @typedef {object} ReconnectPolicy
 * @property {number} [initialDelay=0.5] seconds, the cap of the first delay
 * @property {number} [maxDelay=30] seconds, the largest delay ever waited
 * @property {number} [factor=2] growth of the cap per failed attempt
 * @property {boolean} [jitter=true] full jitter (uniform in [0, cap))
 */

/** @type {Readonly<Required<ReconnectPolicy>>} */
export const DEFAULT_RECONNECT = Object.freeze({ initialDelay: 0.5, maxDelay: 30, factor: 2, jitter: true });

/** How many recent (subscription, publication) pairs are remembered for dedupe. */
export const DEDUPE_CAPACITY = 1024;

/** Name of the cookie holding the resume token (browsers only). */
export const RESUME_COOKIE = "telegraphy_resume";

/**
 * Acks of guaranteed events are batched: pending acks are sent at most
 * `ACK_FLUSH_MS` milliseconds after the first of them was queued, or at
 * once when `ACK_BATCH_MAX` publications are pending (on any subscription).
 */
export const ACK_FLUSH_MS = 50;
/** See {@link ACK_FLUSH_MS}. */
export const ACK_BATCH_MAX = 100;

/** The largest publication id (DESIGN §2.3: ids are integers in [1, 2^53]). */
export const MAX_PUBLICATION_ID = 2 ** 53;

/**
 * How many gaps in a row one subscription may meet (each handled by its
 * `ongap` and a re-subscription) before the client gives it up and reports
 * the gap as an error: a store that keeps answering gap must not make the
 * client loop.
 */
export const MAX_GAPS_IN_A_ROW = 3;

const WAMP_EVENT = 36;
const AUTH_FAILED = "wamp.error.authentication_failed";
const NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure";
const INVALID_ARGUMENT = "wamp.error.invalid_argument";
const GAP = "telegraphy.error.gap";
// Errors a re-subscription may see for a while after an edge restarts: the
// edge learns the event types from the router just after it comes up, and
// answers a persistent or `since` SUBSCRIBE with `unavailable` until its
// router link (and the router's persist) is up.
const TRANSIENT_SUBSCRIBE_ERRORS = new Set(["telegraphy.error.unknown_event", "telegraphy.error.unavailable"]);
const CLOSE_TIMEOUT_MS = 3000;
const QUICK_RESUBSCRIBE_TRIES = 6; // ~3 s of retries before `open` is announced anyway

/**
 * The delay (seconds) before reconnect attempt `attempt` (0-based) under
 * `policy`, drawing from `random` (a function returning [0, 1)).
 * @param {number} attempt
 * @param {ReconnectPolicy} [policy]
 * @param {() => number} [random=Math.random]
 * @returns {number}
 */
export function backoffDelay(attempt, policy = DEFAULT_RECONNECT, random = Math.random) {
  const p = { ...DEFAULT_RECONNECT, ...policy };
  // factor ** attempt overflows to Infinity for large attempts: min() caps it.
  const cap = Math.min(p.maxDelay, p.initialDelay * Math.pow(p.factor, Math.max(0, attempt)));
  return p.jitter ? random() * cap : cap;
}

/**
 * A bounded set of recently seen keys, least recently seen evicted first
 * (a Map keeps insertion order; a hit moves the key to the end).
 */
export class RecentIds {
  /** @param {number} [capacity=DEDUPE_CAPACITY] */
  constructor(capacity = DEDUPE_CAPACITY) {
    /** @type {number} */
    this.capacity = capacity;
    this._keys = new Map();
  }

  /**
   * Records `key`; returns true when it was already there (a duplicate).
   * @param {string|number} key
   * @returns {boolean}
   */
  seen(key) {
    if (this._keys.has(key)) {
      this._keys.delete(key);
      this._keys.set(key, true);
      return true;
    }
    this._keys.set(key, true);
    if (this._keys.size > this.capacity) this._keys.delete(this._keys.keys().next().value);
    return false;
  }

  /** @returns {number} how many keys are held */
  get size() {
    return this._keys.size;
  }
}

// ---------------------------------------------------------------- helpers

/** The `sub` of a v1 token (not verified: only to pick the WAMP authid). */
function tokenSubject(token) {
  try {
    const part = String(token).split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
    const json = decodeURIComponent(
      Array.from(atob(b64), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    const sub = JSON.parse(json).sub;
    return typeof sub === "string" ? sub : sub != null ? String(sub) : undefined;
  } catch {
    return undefined;
  }
}

function errorUri(e) {
  return (e && (e.error || e.reason)) || undefined;
}

/** An Error carrying the WAMP error URI (`.uri`) of an AutobahnJS error. */
function wampError(e, what) {
  if (e instanceof Error) return e;
  const uri = errorUri(e) || "telegraphy.error.unknown";
  const detail = e && Array.isArray(e.args) && e.args.length ? `: ${e.args[0]}` : "";
  const err = new Error(`${what}: ${uri}${detail}`);
  err.uri = uri;
  err.cause = e;
  return err;
}

function hasDocument() {
  return typeof document !== "undefined" && document !== null && typeof document.cookie === "string";
}

function urlPath(url) {
  try {
    return new URL(url).pathname || "/";
  } catch {
    return "/";
  }
}

function readCookie(name) {
  if (!hasDocument()) return undefined;
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function writeCookie(name, value, { path, maxAge, secure }) {
  if (!hasDocument()) return;
  let c = `${name}=${encodeURIComponent(value)}; Path=${path}; Max-Age=${Math.max(0, Math.floor(maxAge))}; SameSite=Lax`;
  if (secure) c += "; Secure";
  document.cookie = c;
}

function resolveAutobahn(given) {
  const ab = given || (typeof globalThis !== "undefined" ? globalThis.autobahn : undefined);
  if (!ab || typeof ab.Connection !== "function") {
    throw new Error("telegraphy: AutobahnJS not found: load autobahn.min.js first, or pass {autobahn}");
  }
  return ab;
}

// ---------------------------------------------------------------- subscription

let handleSerial = 0;

/**
 * A subscription handle, returned (through a Promise) by
 * {@link TelegraphyClient#subscribe}. It stays valid across reconnects:
 * the client re-subscribes it on every new session.
 */
export class Subscription {
  /** @package */
  constructor(client, topic, handler, options) {
    /** @type {string} the topic (or pattern) subscribed to */
    this.topic = topic;
    /** @type {SubscribeOptions} the options given to subscribe() */
    this.options = options;
    /** @type {number|undefined} the WAMP subscription id on the current session */
    this.id = undefined;
    /** @type {boolean} false once unsubscribed, or refused by the gateway */
    this.active = true;
    /** @type {number|undefined} the last publication id delivered to the handler */
    this.lastPublication = undefined;
    /** @type {Error|undefined} the last error of a (re-)subscription */
    this.error = undefined;
    /** @type {number} gaps met so far (each reported through `ongap`) */
    this.gaps = 0;
    // The `_since` of the next SUBSCRIBE (undefined = none), see wampOptions().
    this._since = options.since ?? undefined;
    this._gapsInARow = 0;
    this._key = ++handleSerial;
    this._client = client;
    this._handler = handler;
    this._session = null; // the AutobahnJS session it is subscribed on
    this._wamp = null; // the AutobahnJS Subscription on that session
    this._retryTimer = null;
    this._first = null; // {resolve, reject} of the subscribe() promise until settled
  }

  /**
   * The WAMP SUBSCRIBE options for this handle's next SUBSCRIBE (DESIGN
   * §2.3). `_since` is:
   * - for a `since` subscription (not persistent): `since` at first, then
   *   the last publication delivered, so that a re-subscription replays only
   *   what was missed;
   * - for a persistent one: absent (the gateway resumes after the last ack),
   *   unless `since` was given or a gap was met: then that position,
   *   advanced by every cumulative ack the gateway confirmed (what was
   *   delivered but not yet acked is replayed again, dropped as a duplicate
   *   and acked);
   * - after a gap: `oldest - 1` (absent when nothing was held), as DESIGN
   *   §2.3 prescribes.
   * @returns {object}
   */
  wampOptions() {
    const o = {};
    const { match, filter, persistent } = this.options;
    if (match && match !== "exact") o.match = match;
    if (filter) o._filter = filter;
    if (persistent) o._persistent = true;
    if (this._since !== undefined) o._since = this._since;
    return o;
  }
}

// ---------------------------------------------------------------- client

/**
 * Options of {@link Telegraphy.connect}.
 * @typedef {object} ConnectOptions
 * @property {string} url the gateway's WebSocket URL, e.g. "ws://127.0.0.1:8765/ws"
 * @property {string} [realm="telegraphy"] the WAMP realm
 * @property {string} [token] a ws auth token (DESIGN §2.4), single-use; without one the session is anonymous
 * @property {object} [autobahn] the AutobahnJS module (default: the global `autobahn`)
 * @property {ReconnectPolicy} [reconnect] reconnect policy (defaults: {@link DEFAULT_RECONNECT})
 * @property {() => (string|null|undefined|Promise<string|null|undefined>)} [onTokenExpired]
 *   called when the gateway refuses the resume token and no unused page token
 *   is left; returns a fresh ws token (e.g. fetched from a Django view), or
 *   nothing to carry on anonymously
 * @property {(state: TelegraphyState) => void} [onstate] same as calling {@link TelegraphyClient#onstate} at once
 * @property {(error: Error, context: object) => void} [onerror] errors that have no caller to reject:
 *   a re-subscription refused after a reconnect, a handler or an `ongap` that threw (default: console.warn)
 * @property {() => number} [random=Math.random] random source of the jitter (tests)
 * @property {string} [cookiePath] Path of the resume cookie (default: the path of `url`)
 */

/**
 * Options of {@link TelegraphyClient#subscribe}.
 * @typedef {object} SubscribeOptions
 * @property {"exact"|"prefix"|"wildcard"} [match="exact"] WAMP pattern-based subscription policy
 * @property {string} [filter] a query in the event query language (`_filter`), e.g. `room == "lobby"`
 * @property {boolean} [persistent] keep the subscription, and collect its guaranteed events, while
 *   the client is away (`_persistent`); needs an identified client (a ws token, or in a browser the
 *   gateway's identity cookie), else subscribe() rejects with `telegraphy.error.identity_required`
 * @property {number} [since] replay the retained events after this publication id (an integer in
 *   [1, 2^53]), then go live without gap or duplicate (`_since`)
 * @property {GapHandler} [ongap] called when the gateway cannot serve the subscription whole
 *   (ERROR `telegraphy.error.gap`); the client then subscribes again from the oldest event still held.
 *   Without it a gap rejects subscribe() (or, on a re-subscription, ends the subscription through
 *   `onerror`): nothing is skipped silently
 */

/**
 * What `ongap` gets.
 * @typedef {object} GapInfo
 * @property {number|null} oldest the oldest publication id still held for the subscription
 *   (the ERROR's kwargs), null when nothing is held
 * @property {string} topic the subscription's topic
 * @property {Subscription} subscription the handle
 */

/**
 * Called on a gap (DESIGN §2.3): events the subscription should have had
 * are gone (expired, over the backlog bound, retention lost). Reload what
 * the page shows from its source of truth here; once it returns (or its
 * Promise settles) the client subscribes again with `_since: oldest - 1`
 * (or without `_since` when `oldest` is null) and delivery goes on from
 * `oldest`.
 * @callback GapHandler
 * @param {GapInfo} info
 * @returns {void|Promise<void>}
 */

/**
 * What a handler gets besides the event's data.
 * @typedef {object} EventInfo
 * @property {string} topic the event type (the concrete topic, also for pattern subscriptions)
 * @property {number} publication the publication id (unique, increasing per ingest)
 * @property {number|undefined} ts publication time, microseconds since the Unix epoch
 * @property {boolean} guaranteed the event type is guaranteed (`_guaranteed`); on a persistent
 *   subscription the client acks it once the handler returned
 * @property {boolean} replay delivered from storage (a persistent backlog or a `since` replay,
 *   EVENT details `_replay`), not live
 * @property {Subscription} subscription the handle this delivery belongs to
 */

/**
 * @callback EventHandler
 * @param {object} data the event's fields (WAMP kwargs), exactly as published
 * @param {EventInfo} info
 */

/**
 * A connection to a Telegraphy gateway that survives edge restarts. Made
 * by {@link Telegraphy.connect}; not constructed directly.
 */
export class TelegraphyClient {
  /** @param {ConnectOptions} options */
  constructor(options) {
    if (!options || typeof options.url !== "string") throw new TypeError("telegraphy: connect() needs {url}");
    this._autobahn = resolveAutobahn(options.autobahn);
    this._url = options.url;
    this._realm = options.realm || "telegraphy";
    this._policy = { ...DEFAULT_RECONNECT, ...(options.reconnect || {}) };
    this._random = options.random || Math.random;
    this._onTokenExpired = options.onTokenExpired;
    this._onerror = options.onerror || ((e) => console.warn("telegraphy:", e.message));
    this._cookiePath = options.cookiePath || urlPath(this._url);
    this._pageToken = options.token || null; // unused (not yet spent on a ticket WELCOME)
    this._resumeToken = null;
    // A resume cookie left by an earlier page of the same user resumes its
    // client id (persistent subscriptions); another user's is ignored.
    if (this._pageToken) {
      const cookie = readCookie(RESUME_COOKIE);
      if (cookie && tokenSubject(cookie) === tokenSubject(this._pageToken)) this._resumeToken = cookie;
    }
    this._freshToken = null; // from onTokenExpired, used once
    this._state = null;
    this._listeners = new Set();
    this._handles = new Set(); // live Subscription handles
    this._recent = new RecentIds(DEDUPE_CAPACITY);
    this._conn = null;
    this._session = null;
    this._sessionInfo = null; // per session: see _opened
    this._attempt = 0; // failed attempts since the last open
    this._everOpened = false;
    this._closing = false;
    this._timer = null;
    this._openWaiters = [];
    this._closeWaiters = [];
    this._eventDetails = null; // raw EVENT details while AutobahnJS runs our handler
    /** Counters, for diagnostics and tests. */
    this._stats = {
      opens: 0, received: 0, duplicates: 0, replayed: 0, gaps: 0,
      acked: 0, ackCalls: 0, ackErrors: 0, ackUnsupported: 0,
    };
    // A page being left (tab closed, navigation) sends the pending acks at
    // once instead of after ACK_FLUSH_MS.
    this._onPageHide = null;
    if (typeof window !== "undefined" && window && typeof window.addEventListener === "function") {
      this._onPageHide = () => this._flushAcks();
      window.addEventListener("pagehide", this._onPageHide);
    }
    if (options.onstate) this.onstate(options.onstate);
    this._setState("connecting");
    this._connect();
  }

  /** @returns {TelegraphyState} the current state */
  get state() {
    return this._state;
  }

  /** @returns {object|null} WELCOME details of the current session (authid, authrole, authextra ...) */
  get session() {
    return this._sessionInfo ? this._sessionInfo.details : null;
  }

  /**
   * Counters: opens, received, duplicates (dropped by dedupe), replayed
   * (delivered from storage), gaps (met by any subscription), acked
   * (publications acked, as the gateway confirmed), ackCalls (telegraphy.ack
   * CALLs answered), ackErrors, ackUnsupported (sessions whose gateway has
   * no telegraphy.ack).
   * @returns {object}
   */
  stats() {
    return { ...this._stats };
  }

  /**
   * Calls `fn(state)` at once with the current state, then on every change.
   * @param {(state: TelegraphyState) => void} fn
   * @returns {() => void} a function that removes `fn`
   */
  onstate(fn) {
    this._listeners.add(fn);
    if (this._state) this._safeCall(fn, this._state);
    return () => this._listeners.delete(fn);
  }

  /**
   * Subscribes `handler` to `topic`. Resolves with a handle once the
   * gateway confirmed (SUBSCRIBED means live: any event accepted after it is
   * delivered; a persistent or `since` subscription's replay follows it, in
   * publication order, before the live events); before the first session
   * opens, it waits for it. Rejects with an Error whose `uri` is the WAMP
   * error (e.g. "telegraphy.error.unknown_event",
   * "telegraphy.error.invalid_filter", "wamp.error.not_authorized",
   * "telegraphy.error.identity_required", "wamp.error.invalid_argument" for
   * a `since` that is not an integer in [1, 2^53], "telegraphy.error.gap"
   * without `ongap`: then `error.oldest` is the oldest id held).
   * @param {string} topic an event type, or a pattern with `match`
   * @param {EventHandler} handler
   * @param {SubscribeOptions} [options]
   * @returns {Promise<Subscription>}
   */
  subscribe(topic, handler, options = {}) {
    if (typeof topic !== "string" || !topic) return Promise.reject(new TypeError("telegraphy: subscribe() needs a topic"));
    if (typeof handler !== "function") return Promise.reject(new TypeError("telegraphy: subscribe() needs a handler"));
    if (this._closing) return Promise.reject(new Error("telegraphy: client is closed"));
    const since = options.since;
    if (since !== undefined && since !== null && !(Number.isInteger(since) && since >= 1 && since <= MAX_PUBLICATION_ID)) {
      const err = new Error(`telegraphy: subscribe ${topic}: since must be an integer in [1, 2^53], not ${since}`);
      err.uri = INVALID_ARGUMENT;
      return Promise.reject(err);
    }
    if (options.ongap !== undefined && typeof options.ongap !== "function") {
      return Promise.reject(new TypeError("telegraphy: subscribe() ongap must be a function"));
    }
    const handle = new Subscription(this, topic, handler, { ...options });
    this._handles.add(handle);
    const first = new Promise((resolve, reject) => {
      handle._first = { resolve, reject };
    });
    // With a session (open, or re-subscribing after a reconnect) subscribe
    // now; otherwise the next session's re-subscribe round takes it.
    if (this._session) this._subscribeOn(handle, this._session, QUICK_RESUBSCRIBE_TRIES);
    return first;
  }

  /**
   * Ends a subscription; its handler is not called any more. Safe to call twice.
   * @param {Subscription} handle
   * @returns {Promise<void>}
   */
  async unsubscribe(handle) {
    if (!handle || !this._handles.has(handle)) return;
    this._handles.delete(handle);
    handle.active = false;
    clearTimeout(handle._retryTimer);
    if (handle._first) {
      handle._first.reject(new Error("telegraphy: unsubscribed before the gateway confirmed"));
      handle._first = null;
    }
    const wamp = handle._wamp;
    const session = handle._session;
    handle._wamp = null;
    handle._session = null;
    handle.id = undefined;
    if (wamp && session && session === this._session && session.isOpen) {
      try {
        await session.unsubscribe(wamp);
      } catch (e) {
        // The session may be gone by now; a new one will not re-subscribe it.
        if (session === this._session && session.isOpen) throw wampError(e, "unsubscribe");
      }
    }
  }

  /**
   * The event types this session may subscribe to (`telegraphy.events.list`,
   * DESIGN §2.3): a list of `{name, fields, audience, ttl, guaranteed}`.
   * Waits for a session when there is none.
   * @returns {Promise<Array<{name: string, fields: string[], audience: string, ttl: number, guaranteed: boolean}>>}
   */
  async events() {
    const session = await this._whenOpen();
    try {
      const r = await session.call("telegraphy.events.list");
      // AutobahnJS resolves a single positional result alone, else a Result.
      return r && !Array.isArray(r) && Array.isArray(r.args) ? r.args[0] : r;
    } catch (e) {
      throw wampError(e, "telegraphy.events.list");
    }
  }

  /**
   * Closes the session and stops reconnecting; the state becomes `closed`.
   * Pending subscribe()/events() promises reject. Safe to call twice.
   * @returns {Promise<void>} resolved once closed
   */
  close() {
    if (this._state === "closed") return Promise.resolve();
    const done = new Promise((resolve) => this._closeWaiters.push(resolve));
    if (this._closing) return done;
    this._closing = true;
    clearTimeout(this._timer);
    this._timer = null;
    for (const h of this._handles) clearTimeout(h._retryTimer);
    this._flushAcks(); // before the GOODBYE, on the same socket
    const conn = this._conn;
    if (conn) {
      try {
        conn.close("wamp.close.normal", "client closed");
      } catch {
        // "connection already closed": AutobahnJS will not call onclose again.
        this._conn = null;
        this._finishClose();
        return done;
      }
      // A gateway that never answers the GOODBYE must not keep close()
      // pending: drop the socket after CLOSE_TIMEOUT_MS.
      const timer = setTimeout(() => {
        if (this._conn !== conn) return;
        this._conn = null;
        try {
          if (conn._transport) conn._transport.close();
        } catch {
          /* already closing */
        }
        this._finishClose();
      }, CLOSE_TIMEOUT_MS);
      this._closeWaiters.push(() => clearTimeout(timer));
    } else {
      this._finishClose();
    }
    return done;
  }

  // ---------------------------------------------------------------- internals

  _safeCall(fn, ...args) {
    try {
      fn(...args);
    } catch (e) {
      console.error("telegraphy: listener threw", e);
    }
  }

  _setState(state) {
    if (this._state === state) return;
    this._state = state;
    for (const fn of [...this._listeners]) this._safeCall(fn, state);
  }

  _finishClose() {
    this._dropSessionInfo();
    this._conn = null;
    this._session = null;
    if (this._onPageHide) {
      window.removeEventListener("pagehide", this._onPageHide);
      this._onPageHide = null;
    }
    const err = new Error("telegraphy: client is closed");
    for (const h of this._handles) {
      if (h._first) {
        h._first.reject(err);
        h._first = null;
      }
    }
    for (const w of this._openWaiters.splice(0)) w.reject(err);
    this._setState("closed");
    for (const resolve of this._closeWaiters.splice(0)) resolve();
  }

  _whenOpen() {
    if (this._closing) return Promise.reject(new Error("telegraphy: client is closed"));
    if (this._session && this._state === "open") return Promise.resolve(this._session);
    return new Promise((resolve, reject) => this._openWaiters.push({ resolve, reject }));
  }

  // Which credential the next attempt offers: the resume token first (same
  // identity and client id), then an unused page token, then a fresh one
  // from onTokenExpired; none means an anonymous HELLO.
  _credential() {
    if (this._resumeToken) return { kind: "resume", token: this._resumeToken };
    if (this._pageToken) return { kind: "page", token: this._pageToken };
    if (this._freshToken) return { kind: "fresh", token: this._freshToken };
    return null;
  }

  _connect() {
    this._timer = null;
    if (this._closing) return;
    const credential = this._credential();
    const options = {
      url: this._url,
      realm: this._realm,
      // One attempt per Connection: the retry policy is ours (see _lost).
      max_retries: 0,
      retry_if_unreachable: false,
    };
    if (credential) {
      // The gateway answers "ticket" with a CHALLENGE once it verifies
      // tokens; until then "anonymous" gets a public session.
      options.authmethods = ["ticket", "anonymous"];
      const authid = tokenSubject(credential.token);
      if (authid) options.authid = authid;
      options.onchallenge = (session, method) => {
        if (method !== "ticket") throw new Error(`unsupported challenge ${method}`);
        credential.sent = true;
        return credential.token;
      };
    }
    let conn;
    try {
      conn = new this._autobahn.Connection(options);
    } catch (e) {
      this._onerror(e, { during: "connect" });
      this._schedule();
      return;
    }
    this._conn = conn;
    conn.onopen = (session, details) => this._opened(conn, session, details || {}, credential);
    conn.onclose = (reason, details) => {
      this._lost(conn, reason, details || {}, credential);
      return true; // never let AutobahnJS retry on its own
    };
    conn.open();
  }

  _schedule() {
    if (this._closing) return;
    this._setState(this._everOpened ? "reconnecting" : "connecting");
    const delay = backoffDelay(this._attempt++, this._policy, this._random);
    this._timer = setTimeout(() => this._connect(), delay * 1000);
  }

  _opened(conn, session, details, credential) {
    if (conn !== this._conn || this._closing) return;
    this._session = session;
    // Acks are per session: the gateway acks only what it sent that session.
    // acks: handle -> {ids, upto, ordered} pending; ackTop: handle -> the
    // highest id queued for it on this session.
    this._sessionInfo = { details, acks: new Map(), ackTop: new Map(), ackCount: 0, ackTimer: null, ackUnsupported: false };
    this._captureEventDetails(session);
    this._attempt = 0;
    this._stats.opens++;
    // A ticket WELCOME spends the single-use token it answered with.
    if (credential && credential.sent && details.authmethod !== "anonymous") {
      if (credential.kind === "page") this._pageToken = null;
      if (credential.kind === "fresh") this._freshToken = null;
    }
    const extra = details.authextra || {};
    if (typeof extra.resume_token === "string" && extra.resume_token) this._storeResume(extra);
    const round = [...this._handles].map((h) => this._subscribeOn(h, session, QUICK_RESUBSCRIBE_TRIES));
    Promise.all(round).then(() => {
      if (this._session !== session || this._closing) return;
      this._everOpened = true;
      this._setState("open");
      for (const w of this._openWaiters.splice(0)) w.resolve(session);
    });
  }

  _storeResume(extra) {
    this._resumeToken = extra.resume_token;
    const exp = Number(extra.resume_expires);
    // resume_expires is unix seconds (like a token's exp); a small number
    // is read as seconds from now.
    const now = Date.now() / 1000;
    const maxAge = Number.isFinite(exp) && exp > 0 ? (exp > 1e9 ? exp - now : exp) : 24 * 3600;
    const secure =
      this._url.startsWith("wss:") || (typeof location !== "undefined" && location && location.protocol === "https:");
    writeCookie(RESUME_COOKIE, extra.resume_token, { path: this._cookiePath, maxAge, secure });
  }

  _forgetResume() {
    this._resumeToken = null;
    writeCookie(RESUME_COOKIE, "", { path: this._cookiePath, maxAge: 0, secure: false });
  }

  _lost(conn, reason, details, credential) {
    if (conn !== this._conn) return;
    this._dropSessionInfo(); // pending acks die with the session: its events come again
    this._conn = null;
    this._session = null;
    for (const h of this._handles) {
      clearTimeout(h._retryTimer);
      h._session = null;
      h._wamp = null;
      h.id = undefined;
    }
    if (this._closing) {
      this._finishClose();
      return;
    }
    if (details.reason === AUTH_FAILED && credential) {
      // The gateway refused the token: never offer it again.
      if (credential.kind === "resume") this._forgetResume();
      if (credential.kind === "page") this._pageToken = null;
      if (credential.kind === "fresh") this._freshToken = null;
      if (!this._credential() && this._onTokenExpired) {
        this._setState(this._everOpened ? "reconnecting" : "connecting");
        Promise.resolve()
          .then(() => this._onTokenExpired())
          .then(
            (token) => {
              this._freshToken = token || null;
            },
            (e) => this._onerror(e, { during: "onTokenExpired" }),
          )
          .then(() => this._schedule());
        return;
      }
    }
    this._schedule();
  }

  // Subscribes `handle` on `session`; retries transient refusals (at most
  // `quick` times before settling, then in the background with the backoff
  // policy). Resolves once settled either way: it never rejects.
  _subscribeOn(handle, session, quick) {
    return new Promise((settle) => {
      const attempt = (n) => {
        if (!handle.active || this._session !== session || this._closing) return settle();
        if (handle._session === session) return settle();
        const onEvent = (args, kwargs, ev) => this._deliver(handle, kwargs, ev);
        session.subscribe(handle.topic, onEvent, handle.wampOptions()).then(
          (wamp) => {
            if (!handle.active || this._session !== session) {
              session.unsubscribe(wamp).catch(() => {});
              return settle();
            }
            handle._session = session;
            handle._wamp = wamp;
            handle.id = wamp.id;
            handle.error = undefined;
            handle._gapsInARow = 0;
            if (handle._first) {
              handle._first.resolve(handle);
              handle._first = null;
            }
            settle();
          },
          (e) => {
            const err = wampError(e, `subscribe ${handle.topic}`);
            handle.error = err;
            if (err.uri === GAP) {
              const oldest = e && e.kwargs && Number.isInteger(e.kwargs.oldest) ? e.kwargs.oldest : null;
              err.oldest = oldest;
              this._stats.gaps++;
              if (handle.options.ongap && ++handle._gapsInARow <= MAX_GAPS_IN_A_ROW) {
                this._onGap(handle, oldest).then(() => attempt(n));
                return;
              }
            }
            if (TRANSIENT_SUBSCRIBE_ERRORS.has(err.uri) && handle._first === null) {
              // A re-subscription after a reconnect: the type may simply not
              // have reached this edge yet.
              const delay = n < quick ? 0.1 * 2 ** n : backoffDelay(n - quick + 3, this._policy, this._random);
              handle._retryTimer = setTimeout(() => attempt(n + 1), delay * 1000);
              if (n + 1 === quick) settle(); // announce `open`, keep trying in the background
              return;
            }
            this._handles.delete(handle);
            handle.active = false;
            if (handle._first) {
              handle._first.reject(err);
              handle._first = null;
            } else {
              this._onerror(err, { during: "resubscribe", subscription: handle });
            }
            settle();
          },
        );
      };
      attempt(0);
    });
  }

  // A gap (DESIGN §2.3): the next SUBSCRIBE starts from the oldest event
  // held; the application hears of it first (and may reload its state,
  // asynchronously) through `ongap`. Resolves once `ongap` settled.
  _onGap(handle, oldest) {
    handle.gaps++;
    if (oldest !== null && oldest > 1) {
      handle._since = oldest - 1;
    } else if (handle.options.persistent) {
      // Nothing held: resume after what this client last saw, if anything
      // (from 0 the store would answer the same gap again).
      handle._since = handle.lastPublication;
    } else {
      handle._since = undefined; // nothing retained: live from now
    }
    const info = { oldest, topic: handle.topic, subscription: handle };
    return Promise.resolve()
      .then(() => handle.options.ongap(info))
      .catch((e) => this._onerror(e instanceof Error ? e : new Error(String(e)), { during: "ongap", subscription: handle }));
  }

  // AutobahnJS hands handlers only some EVENT details (not `ts` nor
  // `_guaranteed`): wrap its EVENT dispatcher to expose the raw details to
  // our handlers while it runs them (synchronously). Without that internal
  // (a future AutobahnJS), ts is undefined and nothing is acked.
  _captureEventDetails(session) {
    const map = session && session._MESSAGE_MAP;
    if (!map || typeof map[WAMP_EVENT] !== "function" || map[WAMP_EVENT]._telegraphy) return;
    const original = map[WAMP_EVENT];
    const client = this;
    const wrapped = function (msg) {
      const outer = client._eventDetails;
      client._eventDetails = Array.isArray(msg) && msg[3] && typeof msg[3] === "object" ? msg[3] : null;
      try {
        return original.call(this, msg);
      } finally {
        client._eventDetails = outer;
      }
    };
    wrapped._telegraphy = true;
    map[WAMP_EVENT] = wrapped;
  }

  _deliver(handle, kwargs, ev) {
    if (!handle.active) return;
    const details = this._eventDetails || {};
    const publication = ev.publication;
    const guaranteed = details._guaranteed === true;
    const replay = details._replay === true;
    // Only a persistent subscription has stored rows to remove: the
    // gateway ignores (and counts) acks for any other.
    const ack = guaranteed && handle.options.persistent === true;
    this._stats.received++;
    if (this._recent.seen(`${handle._key}:${publication}`)) {
      this._stats.duplicates++;
      if (ack) this._queueAck(handle, publication, true); // redelivered: our ack may have been lost
      return;
    }
    handle.lastPublication = publication;
    const { persistent, since } = handle.options;
    if (!persistent && since !== undefined && since !== null && !(handle._since >= publication)) {
      handle._since = publication; // a re-subscription replays only what comes after
    }
    if (replay) this._stats.replayed++;
    const info = { topic: ev.topic || handle.topic, publication, ts: details.ts, guaranteed, replay, subscription: handle };
    try {
      handle._handler(kwargs || {}, info);
    } catch (e) {
      this._onerror(e instanceof Error ? e : new Error(String(e)), { during: "handler", subscription: handle });
    }
    // Acked once the handler ran, even if it threw: a handler that always
    // throws must not make the gateway redeliver forever.
    if (ack && handle.active) this._queueAck(handle, publication, false);
  }

  // Queues the ack of `publication`, delivered (or, `duplicate`, dropped as
  // delivered before) on `handle` in the current session. While a handle's
  // ids arrive increasing, one cumulative {subscription, upto} covers them
  // all (the gateway sends a subscription's events in publication order and
  // acks only what it sent this session, so everything up to `upto` was
  // delivered before it); an id below one already queued makes that batch
  // an explicit list of ids.
  _queueAck(handle, publication, duplicate) {
    const info = this._sessionInfo;
    if (!info || info.ackUnsupported || handle._session !== this._session) return;
    const top = info.ackTop.get(handle) || 0;
    let batch = info.acks.get(handle);
    if (publication > top) {
      info.ackTop.set(handle, publication);
    } else if (duplicate) {
      return; // at or below an id queued or acked on this session: covered
    }
    if (!batch) {
      batch = { ids: [], upto: 0, ordered: true };
      info.acks.set(handle, batch);
    }
    if (publication <= top) batch.ordered = false;
    batch.ids.push(publication);
    if (publication > batch.upto) batch.upto = publication;
    if (++info.ackCount >= ACK_BATCH_MAX) {
      this._flushAcks();
    } else if (!info.ackTimer) {
      info.ackTimer = setTimeout(() => this._flushAcks(), ACK_FLUSH_MS);
    }
  }

  // Sends the pending acks of the current session: per subscription one
  // CALL telegraphy.ack, kwargs {subscription, upto} when its batch was in
  // order, else args [[id, ...]].
  _flushAcks() {
    const info = this._sessionInfo;
    const session = this._session;
    if (!info) return;
    clearTimeout(info.ackTimer);
    info.ackTimer = null;
    const batches = info.acks;
    info.acks = new Map();
    info.ackCount = 0;
    if (!session || info.ackUnsupported) return;
    for (const [handle, batch] of batches) {
      if (!handle.active || handle._session !== session || handle.id === undefined) continue;
      const subscription = handle.id;
      const call = batch.ordered
        ? session.call("telegraphy.ack", [], { subscription, upto: batch.upto })
        : session.call("telegraphy.ack", [batch.ids]);
      call.then(
        () => {
          this._stats.ackCalls++;
          this._stats.acked += batch.ids.length;
          // A persistent subscription that resumes from a position moves it
          // past what the gateway now holds as acked.
          if (batch.ordered && handle._since !== undefined && batch.upto > handle._since && handle.options.persistent) {
            handle._since = batch.upto;
          }
        },
        (e) => {
          if (errorUri(e) === NO_SUCH_PROCEDURE) {
            // A gateway without persistence: stop acking on this session,
            // quietly (a newer gateway after a reconnect may have it).
            if (!info.ackUnsupported) this._stats.ackUnsupported++;
            info.ackUnsupported = true;
          } else {
            this._stats.ackErrors++;
          }
        },
      );
    }
  }

  _dropSessionInfo() {
    const info = this._sessionInfo;
    if (info) clearTimeout(info.ackTimer);
    this._sessionInfo = null;
  }
}

// ---------------------------------------------------------------- entry points

/**
 * The entry points.
 * @namespace
 */
export const Telegraphy = {
  /**
   * Connects to a gateway and keeps reconnecting until `close()`.
   * @param {ConnectOptions} options
   * @returns {TelegraphyClient}
   * @example
   * const client = Telegraphy.connect({url: "ws://127.0.0.1:8765/ws", token});
   * client.onstate((s) => (badge.textContent = s));
   * const sub = await client.subscribe("shop.order.shipped", (data, info) => show(data), {filter: 'carrier == "dhl"'});
   */
  connect(options) {
    return new TelegraphyClient(options);
  },

  /**
   * Connects with the settings the `{% telegraphy_scripts %}` template tag
   * rendered into `<script type="application/json" id="telegraphy-config">`
   * (`{url, realm, token}`); `options` add to or override them.
   * @param {Partial<ConnectOptions>} [options]
   * @returns {TelegraphyClient}
   */
  fromPage(options = {}) {
    if (typeof document === "undefined") throw new Error("telegraphy: fromPage() needs a document");
    const el = document.getElementById("telegraphy-config");
    if (!el) throw new Error('telegraphy: no <script id="telegraphy-config"> on this page');
    let config;
    try {
      config = JSON.parse(el.textContent || "{}");
    } catch (e) {
      throw new Error(`telegraphy: #telegraphy-config is not JSON: ${e.message}`);
    }
    // A page rendered by {% telegraphy_scripts %} names the token view
    // (django_telegraphy.urls) as token_url: use it to renew a refused
    // token, unless the caller brought its own hook.
    const { token_url: tokenUrl, ...rest } = config;
    const renew = tokenUrl && !options.onTokenExpired
      ? {
          onTokenExpired: async () => {
            const response = await fetch(tokenUrl, { credentials: "same-origin", cache: "no-store" });
            if (!response.ok) throw new Error(`telegraphy: ${tokenUrl} answered ${response.status}`);
            return (await response.json()).token;
          },
        }
      : {};
    return new TelegraphyClient({ ...rest, ...renew, ...options });
  },

  backoffDelay,
  RecentIds,
  DEFAULT_RECONNECT,
  ACK_FLUSH_MS,
  ACK_BATCH_MAX,
};

export default Telegraphy;
