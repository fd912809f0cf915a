// A stand-in for AutobahnJS's Connection and Session, just large enough for
// telegraphy.js: the tests play the gateway (open, abort, drop a connection;
// deliver EVENT messages through the same `_MESSAGE_MAP[36]` dispatcher
// AutobahnJS uses) and look at what the client sent (HELLO options,
// challenge answers, SUBSCRIBE options, CALLs).

export class FakeSession {
  constructor(fake) {
    this.fake = fake;
    this.isOpen = true;
    this.subscriptions = new Map(); // id -> {id, topic, handler, options}
    this.subscribeLog = []; // {topic, options}
    this.unsubscribed = [];
    this.calls = []; // {procedure, args, kwargs}
    this.nextId = 1;
    // Mirrors AutobahnJS: EVENT = [36, sub, pub, details, args, kwargs]; the
    // handler gets (args, kwargs, {publication, topic}, subscription).
    this._MESSAGE_MAP = {
      36: (msg) => {
        const sub = this.subscriptions.get(msg[1]);
        if (!sub) throw new Error(`EVENT for unknown subscription ${msg[1]}`);
        sub.handler(msg[4] || [], msg[5] || {}, { publication: msg[2], topic: msg[3].topic || sub.topic }, sub);
      },
    };
  }

  subscribe(topic, handler, options) {
    this.subscribeLog.push({ topic, options });
    const refusal = this.fake.subscribeRefusals.shift();
    if (typeof refusal === 'string') return Promise.reject({ error: refusal, args: [`refused: ${refusal}`] });
    if (refusal) return Promise.reject({ args: [`refused: ${refusal.error}`], ...refusal }); // {error, kwargs}
    // Deterministic ids, as the gateway's: the same key gives the same id.
    const id = this.fake.subscriptionId(topic, options);
    const sub = { id, topic, handler, options };
    this.subscriptions.set(id, sub);
    return Promise.resolve(sub);
  }

  unsubscribe(sub) {
    this.unsubscribed.push(sub.id);
    this.subscriptions.delete(sub.id);
    return Promise.resolve();
  }

  call(procedure, args, kwargs) {
    this.calls.push(kwargs === undefined ? { procedure, args } : { procedure, args, kwargs });
    const answer = this.fake.procedures[procedure];
    if (!answer) return Promise.reject({ error: 'wamp.error.no_such_procedure', args: [`no such procedure: ${procedure}`] });
    return Promise.resolve(answer(args, kwargs));
  }

  // Sends one EVENT through the client's (possibly wrapped) dispatcher.
  event(subId, publication, details, kwargs) {
    this._MESSAGE_MAP[36]([36, subId, publication, details, [], kwargs]);
  }
}

export class FakeAutobahn {
  constructor() {
    this.connections = [];
    this.subscribeRefusals = []; // what the next SUBSCRIBEs get: an error URI, or {error, kwargs}
    this.procedures = {}; // procedure -> (args) => result
    this.ids = new Map();
    const fake = this;
    this.Connection = class {
      constructor(options) {
        this.options = options;
        this.session = null;
        this.closed = false;
        this.opened = false;
        fake.connections.push(this);
      }
      open() {
        this.opened = true;
      }
      close() {
        if (this.closed) throw 'connection already closed';
        this.closed = true;
        if (this.session) this.session.isOpen = false;
        queueMicrotask(() => this.onclose('closed', { reason: 'wamp.close.normal' }));
      }
    };
  }

  subscriptionId(topic, options) {
    const key = JSON.stringify([topic, options]);
    if (!this.ids.has(key)) this.ids.set(key, 1000 + this.ids.size);
    return this.ids.get(key);
  }

  get last() {
    return this.connections[this.connections.length - 1];
  }

  // The gateway sends a CHALLENGE "ticket": returns the client's answer.
  challenge(conn = this.last) {
    return conn.options.onchallenge(null, 'ticket', {});
  }

  // The gateway sends WELCOME with these details.
  welcome(conn = this.last, details = { authmethod: 'anonymous', authrole: 'anonymous' }) {
    conn.session = new FakeSession(this);
    conn.onopen(conn.session, details);
    return conn.session;
  }

  // The gateway sends ABORT (reason) before a session exists.
  abort(conn = this.last, reason = 'wamp.error.authentication_failed') {
    conn.closed = true;
    conn.onclose('closed', { reason, message: 'refused' });
  }

  // The connection is lost (edge killed, network gone) or never made.
  drop(conn = this.last) {
    conn.closed = true;
    if (conn.session) conn.session.isOpen = false;
    conn.onclose(conn.session ? 'lost' : 'unreachable', { reason: null });
  }
}
