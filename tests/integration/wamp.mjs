// WAMP clients for the integration tests, on their own so that the process
// harness (harness.mjs) stays about processes:
//  - AutobahnJS 22.11.1 (npm `autobahn`), wamp.2.json and wamp.2.msgpack. It is
//    pinned on purpose: it brings its own `ws` (7.x) and so runs on Node 20.
//    autobahn 26 expects the built-in global WebSocket of Node >= 22 (on Node
//    20 only behind --experimental-websocket), so do not bump it before Node.
//  - wampy 8.0.2 with its MsgpackSerializer (msgpackr: 64-bit integers decode
//    as BigInt). On Node, wampy needs the WebSocket class passed in (`ws`).
//    Note: msgpackr encodes `undefined` as ext type 0, and wampy puts
//    undefined options (match, get_retained) into every SUBSCRIBE.
//  - RawWamp: a bare `ws` socket speaking WAMP by hand, for bad input, for
//    exact JSON text (64-bit integers) and for many light sessions.
// Also the bounded waits every test uses (waitFor, withTimeout, Inbox).

import { createRequire } from 'node:module';

import WebSocket from 'ws';
import { Wampy } from 'wampy';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';

const require = createRequire(import.meta.url);
export const autobahn = require('autobahn');
// AutobahnJS warns on stderr at every close ("connection closed ..."); the
// tests look at closes themselves. TELEGRAPHY_IT_DEBUG=1 keeps the warnings.
if (!process.env.TELEGRAPHY_IT_DEBUG) autobahn.log.warn = () => {};

export const REALM = 'telegraphy';

// ---------------------------------------------------------------- waiting

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `probe` (sync or async) until it returns a truthy value, which is
// returned; throws naming `what` (and the last probe error) at the deadline,
// or at once when the probe throws an error marked `fatal`.
export async function waitFor(what, probe, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      lastError = null;
    } catch (e) {
      if (e && e.fatal) throw e; // no point waiting any longer
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${lastError.message || lastError})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await delay(intervalMs);
  }
}

// Races a promise against a deadline.
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- raw WAMP

export const WAMP = {
  HELLO: 1, WELCOME: 2, ABORT: 3, CHALLENGE: 4, AUTHENTICATE: 5, GOODBYE: 6, ERROR: 8,
  PUBLISH: 16, PUBLISHED: 17, SUBSCRIBE: 32, SUBSCRIBED: 33, UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35, EVENT: 36, CALL: 48, RESULT: 50,
};

const HELLO_ROLES = { subscriber: { features: { pattern_based_subscription: true } }, caller: {} };
const msgpackSerializer = new MsgpackSerializer();

export class WampError extends Error {
  constructor(uri, message, msg) {
    super(`${uri}${message ? ': ' + message : ''}`);
    this.error = uri;
    this.msg = msg;
  }
}

// A WebSocket speaking WAMP by hand. Messages are decoded into `inbox`
// ({msg, raw}); `expect` takes the first one matching, waiting up to a
// deadline. `onEvent`, when set, takes EVENT messages instead of the inbox.
export class RawWamp {
  constructor(ws, protocol) {
    this.ws = ws;
    this.protocol = protocol;
    this.inbox = [];
    this.waiters = [];
    this.nextRequest = 1;
    this.onEvent = null;
    this.closeInfo = null;
    this.decodeErrors = [];
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    ws.on('error', () => {}); // close follows
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
  }

  static open(url, protocol = 'wamp.2.json', { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocol, { handshakeTimeout: timeoutMs, maxPayload: 64 << 20 });
      const onError = (e) => reject(new Error(`WebSocket ${url} (${protocol}): ${e.message}`));
      ws.once('error', onError);
      ws.once('open', () => {
        ws.off('error', onError);
        if (ws.protocol !== protocol) {
          ws.terminate();
          reject(new Error(`server chose subprotocol "${ws.protocol}", asked "${protocol}"`));
          return;
        }
        resolve(new RawWamp(ws, protocol));
      });
    });
  }

  receive(data, isBinary) {
    let msg;
    const raw = isBinary ? data : data.toString('utf8');
    try {
      msg = this.protocol === 'wamp.2.msgpack' ? msgpackSerializer.decode(data) : JSON.parse(raw);
    } catch (e) {
      this.decodeErrors.push(e.message);
      return;
    }
    if (this.onEvent && Array.isArray(msg) && msg[0] === WAMP.EVENT) {
      this.onEvent(msg, raw);
      return;
    }
    this.inbox.push({ msg, raw, isBinary });
    this.wake();
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  // Sends a WAMP message (an array) with this socket's serializer.
  send(msg) {
    if (this.protocol === 'wamp.2.msgpack') this.ws.send(msgpackSerializer.encode(msg), { binary: true });
    else this.ws.send(JSON.stringify(msg), { binary: false });
  }

  // Sends bytes/text as they are, in a text or binary frame.
  sendRaw(data, { binary }) {
    this.ws.send(data, { binary });
  }

  // First inbox message for which pred(msg, raw) holds; removed from the inbox.
  async expect(pred, timeoutMs = 5000, what = 'a message') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => pred(m.msg, m.raw));
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      if (this.closeInfo) {
        throw new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}; inbox: ${JSON.stringify(this.inbox.map((m) => m.msg))}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; inbox: ${JSON.stringify(this.inbox.map((m) => m.msg), (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  expectType(type, timeoutMs, what) {
    return this.expect((m) => Array.isArray(m) && m[0] === type, timeoutMs, what || `message type ${type}`);
  }

  async hello(realm = REALM, details = {}) {
    this.send([WAMP.HELLO, realm, { roles: HELLO_ROLES, ...details }]);
    const { msg } = await this.expect(
      (m) => Array.isArray(m) && (m[0] === WAMP.WELCOME || m[0] === WAMP.ABORT),
      10000,
      'WELCOME',
    );
    if (msg[0] === WAMP.ABORT) throw new WampError(msg[2], msg[1]?.message, msg);
    this.sessionId = msg[1];
    this.welcome = msg;
    return msg;
  }

  // WAMP ticket authentication (DESIGN §2.4): HELLO offering `authmethods`
  // (default ["ticket"]) with `authid` when given, answers the CHALLENGE
  // with AUTHENTICATE [5, token, {}], and resolves with the WELCOME; throws
  // WampError (with .msg the ABORT) when the edge aborts. The CHALLENGE, if
  // any, is kept in this.challenge.
  async helloTicket(token, { authid, authmethods = ['ticket'], realm = REALM, timeoutMs = 10000 } = {}) {
    const details = { roles: HELLO_ROLES, authmethods };
    if (authid !== undefined) details.authid = authid;
    this.send([WAMP.HELLO, realm, details]);
    const isEnd = (m) => Array.isArray(m) && (m[0] === WAMP.WELCOME || m[0] === WAMP.ABORT);
    let { msg } = await this.expect(
      (m) => isEnd(m) || (Array.isArray(m) && m[0] === WAMP.CHALLENGE), timeoutMs, 'CHALLENGE, WELCOME or ABORT');
    if (msg[0] === WAMP.CHALLENGE) {
      this.challenge = msg;
      this.send([WAMP.AUTHENTICATE, token, {}]);
      ({ msg } = await this.expect(isEnd, timeoutMs, 'WELCOME or ABORT after AUTHENTICATE'));
    }
    if (msg[0] === WAMP.ABORT) throw new WampError(msg[2], msg[1]?.message, msg);
    this.sessionId = msg[1];
    this.welcome = msg;
    return msg;
  }

  // SUBSCRIBE -> subscription id, or throws WampError on ERROR.
  async subscribe(topic, options = {}) {
    const req = this.nextRequest++;
    this.send([WAMP.SUBSCRIBE, req, options, topic]);
    const { msg } = await this.expect(
      (m) => Array.isArray(m) && (m[0] === WAMP.SUBSCRIBED || m[0] === WAMP.ERROR) && Number(m[m[0] === WAMP.ERROR ? 2 : 1]) === req,
      10000,
      `SUBSCRIBED for ${topic}`,
    );
    if (msg[0] === WAMP.ERROR) throw new WampError(msg[4], msg[5]?.[0], msg);
    return msg[2];
  }

  async unsubscribe(subId) {
    const req = this.nextRequest++;
    this.send([WAMP.UNSUBSCRIBE, req, subId]);
    const { msg } = await this.expect(
      (m) => Array.isArray(m) && (m[0] === WAMP.UNSUBSCRIBED || m[0] === WAMP.ERROR) && Number(m[m[0] === WAMP.ERROR ? 2 : 1]) === req,
      10000,
      'UNSUBSCRIBED',
    );
    if (msg[0] === WAMP.ERROR) throw new WampError(msg[4], msg[5]?.[0], msg);
  }

  // CALL -> {args, kwargs}, or throws WampError.
  async call(procedure, args = [], kwargs = {}) {
    const req = this.nextRequest++;
    this.send([WAMP.CALL, req, {}, procedure, args, kwargs]);
    const { msg } = await this.expect(
      (m) => Array.isArray(m) && (m[0] === WAMP.RESULT || m[0] === WAMP.ERROR) && Number(m[m[0] === WAMP.ERROR ? 2 : 1]) === req,
      10000,
      `RESULT of ${procedure}`,
    );
    if (msg[0] === WAMP.ERROR) throw new WampError(msg[4], msg[5]?.[0], msg);
    return { args: msg[3], kwargs: msg[4] };
  }

  nextEvent(timeoutMs = 5000, pred = () => true) {
    return this.expect((m) => Array.isArray(m) && m[0] === WAMP.EVENT && pred(m), timeoutMs, 'EVENT');
  }

  // GOODBYE handshake, then close.
  async close() {
    if (this.closeInfo) return;
    try {
      this.send([WAMP.GOODBYE, {}, 'wamp.close.normal']);
      await this.expectType(WAMP.GOODBYE, 2000, 'GOODBYE reply');
    } catch {
      /* closing anyway */
    }
    this.ws.close(1000);
    await withTimeout(this.closed, 2000, 'close').catch(() => this.ws.terminate());
  }

  terminate() {
    this.ws.terminate();
  }

  // Stops reading from the TCP socket (a slow consumer): the kernel buffers
  // fill, then the server's writes stall. resumeReading() undoes it.
  pauseReading() {
    this.ws._socket.pause();
  }

  resumeReading() {
    this.ws._socket.resume();
  }
}

// Opens a WebSocket and reports how the server treated it, without WAMP:
// {outcome: 'refused', status} when the HTTP upgrade was answered with
// another status; {outcome: 'closed', code, reason, afterOpen} when the
// connection closed (before or after the upgrade) within the deadline;
// {outcome: 'open', raw} (a RawWamp, still open) when the server kept it
// open for holdMs after the upgrade; 'error' for anything else.
export function probeWebSocket(url, protocol = 'wamp.2.json', { timeoutMs = 5000, holdMs = 1000 } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocol, { handshakeTimeout: timeoutMs });
    let opened = false;
    let done = false;
    let holdTimer = null;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(holdTimer);
      resolve(r);
    };
    ws.on('unexpected-response', (req, res) => {
      finish({ outcome: 'refused', status: res.statusCode });
      req.destroy();
    });
    ws.on('error', (e) => {
      if (!opened) setImmediate(() => finish({ outcome: 'error', message: e.message }));
    });
    ws.on('open', () => {
      opened = true;
      holdTimer = setTimeout(() => {
        if (done) return;
        ws.removeAllListeners('close');
        const raw = new RawWamp(ws, protocol);
        finish({ outcome: 'open', raw });
      }, holdMs);
    });
    ws.on('close', (code, reason) => finish({ outcome: 'closed', code, reason: reason.toString(), afterOpen: opened }));
  });
}

// ---------------------------------------------------------------- AutobahnJS

// Opens an AutobahnJS session (serializer 'json' or 'msgpack'); resolves with
// {connection, session, details, closes, close()}; rejects with the close
// reason and details if the connection closes before the session opens.
// Reconnection is off, so a test can tell that a session survived.
export function autobahnConnect(url, { serializer = 'json', realm = REALM, timeoutMs = 10000 } = {}) {
  const ser =
    serializer === 'msgpack' ? new autobahn.serializer.MsgpackSerializer() : new autobahn.serializer.JSONSerializer();
  const connection = new autobahn.Connection({
    url,
    realm,
    serializers: [ser],
    max_retries: 0,
    retry_if_unreachable: false,
  });
  // closes: what Connection.onclose said ({reason, details, at}); AutobahnJS
  // does not pass the WebSocket close code there, so transportCloses keeps
  // what its transport saw ({code, reason, wasClean, at}).
  const handle = { connection, session: null, closes: [], transportCloses: [] };
  const opened = new Promise((resolve, reject) => {
    connection.onopen = (session, details) => {
      handle.session = session;
      handle.details = details;
      const transport = connection._transport;
      if (transport && typeof transport.onclose === 'function') {
        const onclose = transport.onclose;
        transport.onclose = function (evt) {
          handle.transportCloses.push({ code: evt?.code, reason: String(evt?.reason ?? ''), wasClean: evt?.wasClean, at: Date.now() });
          return onclose.call(this, evt);
        };
      }
      resolve(handle);
    };
    connection.onclose = (reason, details) => {
      handle.closes.push({ reason, details, at: Date.now() });
      if (!handle.session) {
        const e = new Error(`AutobahnJS closed before open: ${reason} ${JSON.stringify(details)}`);
        e.reason = reason;
        e.details = details;
        reject(e);
      }
      return true; // do not reconnect
    };
  });
  handle.close = async () => {
    if (connection.isOpen) {
      const closed = new Promise((resolve) => {
        connection.onclose = (reason, details) => {
          handle.closes.push({ reason, details, at: Date.now() });
          resolve();
          return true;
        };
      });
      connection.close();
      await withTimeout(closed, 3000, 'AutobahnJS close').catch(() => {});
    }
  };
  connection.open();
  return withTimeout(opened, timeoutMs, `AutobahnJS ${serializer} session on ${url}`);
}

// ---------------------------------------------------------------- wampy

// Opens a wampy 8 session with the msgpack serializer (node: `ws` passed in).
export async function wampyConnect(url, { realm = REALM, timeoutMs = 10000 } = {}) {
  const client = new Wampy(url, {
    realm,
    ws: WebSocket,
    serializer: new MsgpackSerializer(),
    autoReconnect: false,
    debug: false,
  });
  await withTimeout(client.connect(), timeoutMs, `wampy session on ${url}`);
  return {
    client,
    close: async () => {
      try {
        await withTimeout(client.disconnect(), 3000, 'wampy disconnect');
      } catch {
        /* gone */
      }
    },
  };
}

// ---------------------------------------------------------------- misc

// A collector of delivered events with a condition wait.
export class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }
  push(item) {
    this.items.push(item);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async waitFor(pred, timeoutMs = 5000, what = 'an event') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.items.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; have ${this.items.length} items`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  async waitCount(n, timeoutMs = 5000, what = `${n} events`) {
    return this.waitFor(() => this.items.length >= n ? true : undefined, timeoutMs, what).then(() => this.items);
  }
}
