// One interface over the WAMP clients the tests drive, so that a property is
// checked the same way with every client:
//   client.subscribe(topic, match) -> {subId, inbox}   (inbox: harness Inbox)
//   client.unsubscribe(sub), client.call(procedure) -> args, client.close()
// Each delivered event is pushed to its subscription's inbox as
//   {subId, pubId, topic, details, kwargs, raw}
// where a field a client does not expose is undefined: AutobahnJS hides
// details except topic (and falls back to the subscribed topic when the EVENT
// has none); wampy hides the publication id; raw clients expose everything.

import { Inbox, RawWamp, autobahnConnect, wampyConnect, WampError } from './wamp.mjs';

export const CLIENT_KINDS = ['autobahn-json', 'autobahn-msgpack', 'wampy-msgpack', 'raw-json', 'raw-msgpack'];

function errorUri(e) {
  return e?.error ?? e?.errorUri ?? e?.reason;
}

class AutobahnClient {
  constructor(handle, kind) {
    this.handle = handle;
    this.kind = kind;
    this.session = handle.session;
  }
  get sessionId() {
    return this.session.id;
  }
  async subscribe(topic, match = 'exact') {
    const inbox = new Inbox();
    const options = match === 'exact' ? {} : { match };
    try {
      const sub = await this.session.subscribe(
        topic,
        (args, kwargs, ev, s) => inbox.push({ subId: s.id, pubId: ev.publication, topic: ev.topic, kwargs, args }),
        options,
      );
      return { subId: sub.id, inbox, handle: sub };
    } catch (e) {
      throw new WampError(errorUri(e), e?.args?.[0], e);
    }
  }
  async unsubscribe(sub) {
    await this.session.unsubscribe(sub.handle);
  }
  async call(procedure) {
    try {
      const r = await this.session.call(procedure);
      // AutobahnJS resolves with args[0] alone when there is one arg and no kwargs.
      return r instanceof Object && r.args !== undefined && r.kwargs !== undefined ? r.args : [r];
    } catch (e) {
      throw new WampError(errorUri(e), e?.args?.[0], e);
    }
  }
  get alive() {
    return this.handle.connection.isOpen && this.handle.closes.length === 0;
  }
  close() {
    return this.handle.close();
  }
}

class WampyClient {
  constructor(handle) {
    this.handle = handle;
    this.kind = 'wampy-msgpack';
    this.client = handle.client;
  }
  get sessionId() {
    return this.client.getSessionId();
  }
  async subscribe(topic, match = 'exact') {
    const inbox = new Inbox();
    let subId;
    try {
      const r = await this.client.subscribe(
        topic,
        ({ details, argsDict, argsList }) =>
          inbox.push({ subId, pubId: undefined, topic: details?.topic ?? undefined, details, kwargs: argsDict, args: argsList }),
        match === 'exact' ? undefined : { match },
      );
      subId = r.subscriptionId;
      return { subId, inbox, handle: r };
    } catch (e) {
      throw new WampError(errorUri(e), e?.argsList?.[0], e);
    }
  }
  async unsubscribe(sub) {
    await this.client.unsubscribe(sub.handle.subscriptionKey ?? sub.subId);
  }
  async call(procedure) {
    try {
      const r = await this.client.call(procedure);
      return r.argsList;
    } catch (e) {
      throw new WampError(errorUri(e), e?.argsList?.[0], e);
    }
  }
  get alive() {
    return this.client.getSessionId() !== undefined && this.client.getSessionId() !== null;
  }
  close() {
    return this.handle.close();
  }
}

class RawClient {
  constructor(raw, kind) {
    this.raw = raw;
    this.kind = kind;
    this.inboxes = new Map(); // String(subId) -> Inbox
    this.stray = [];
    raw.onEvent = (msg, rawText) => {
      const item = { subId: msg[1], pubId: msg[2], details: msg[3], topic: msg[3]?.topic, kwargs: msg[5], args: msg[4], raw: rawText };
      const inbox = this.inboxes.get(String(msg[1]));
      if (inbox) inbox.push(item);
      else this.stray.push(item);
    };
  }
  get sessionId() {
    return this.raw.sessionId;
  }
  async subscribe(topic, match = 'exact') {
    const subId = await this.raw.subscribe(topic, match === 'exact' ? {} : { match });
    let inbox = this.inboxes.get(String(subId));
    if (!inbox) {
      inbox = new Inbox();
      this.inboxes.set(String(subId), inbox);
    }
    return { subId, inbox };
  }
  async unsubscribe(sub) {
    await this.raw.unsubscribe(sub.subId);
  }
  async call(procedure) {
    return (await this.raw.call(procedure)).args;
  }
  get alive() {
    return this.raw.closeInfo === null;
  }
  close() {
    return this.raw.close();
  }
}

// Connects a client of `kind` to `url` (and registers it with the gateway
// for cleanup when `gw` is given).
export async function connectClient(kind, url, gw) {
  let client;
  switch (kind) {
    case 'autobahn-json':
      client = new AutobahnClient(await autobahnConnect(url, { serializer: 'json' }), kind);
      break;
    case 'autobahn-msgpack':
      client = new AutobahnClient(await autobahnConnect(url, { serializer: 'msgpack' }), kind);
      break;
    case 'wampy-msgpack':
      client = new WampyClient(await wampyConnect(url));
      break;
    case 'raw-json':
    case 'raw-msgpack': {
      const raw = await RawWamp.open(url, kind === 'raw-json' ? 'wamp.2.json' : 'wamp.2.msgpack');
      await raw.hello();
      client = new RawClient(raw, kind);
      break;
    }
    default:
      throw new Error(`unknown client kind ${kind}`);
  }
  if (gw) gw.track(client);
  return client;
}

// Integers may come back as Number or BigInt depending on the decoder:
// BigInts within the safe range become Numbers, so values compare by value.
export function normalizeInts(v) {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(normalizeInts);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeInts(x)]));
  }
  return v;
}
