// telegraphy.js authenticating against the real gateway (DESIGN §2.4, §2.7):
// the page token comes from `telegraphy-ctl token` (as Django would mint
// it), the client answers the ticket CHALLENGE with it, keeps the resume
// token from WELCOME, and after the edge is kill -9'd and restarted on the
// same port comes back as the same identity and client id by the resume
// token, never offering the single-use page token again.
// The AutobahnJS given to the client is the npm module with a Connection
// that records every ticket the client answers a CHALLENGE with.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, Inbox, autobahn, tokenPayload, waitFor } from '../integration/harness.mjs';
import { Telegraphy } from '../../django_telegraphy/static/telegraphy/telegraphy.js';

const SECRET = 'js-auth-secret-0123456789abcdef-0123';
const AUTH_TOPIC = 'jsauth.orders.shipped'; // audience authenticated
const FAST = { initialDelay: 0.05, maxDelay: 0.5, factor: 2, jitter: true };

// AutobahnJS whose Connection records the tickets sent (in `tickets`).
function spyAutobahn() {
  const tickets = [];
  class Connection extends autobahn.Connection {
    constructor(options) {
      const inner = options.onchallenge;
      if (inner) {
        options = {
          ...options,
          onchallenge: (session, method, extra) => {
            const t = inner(session, method, extra);
            tickets.push(t);
            return t;
          },
        };
      }
      super(options);
    }
  }
  return { module: Object.assign(Object.create(autobahn), { Connection }), tickets };
}

// Publishes numbered events until one reaches the inbox (bounded): the
// edge may still be learning the type, or confirming the subscription.
let serial = 0;
async function publishUntilReceived(gw, inbox, what) {
  await waitFor(what, async () => {
    const k = ++serial;
    await gw.publish(AUTH_TOPIC, { n: k });
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      if (inbox.items.some((d) => d.n === k)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }, { timeoutMs: 20000, intervalMs: 50 });
}

function waitState(client, state, timeoutMs = 15000) {
  return waitFor(`client state ${state} (states so far: ${client.states.join(' -> ')})`,
    () => client.state === state, { timeoutMs, intervalMs: 10 });
}

describe('telegraphy.js ticket authentication against the gateway', () => {
  const gw = new Gateway({ name: 'jsauth', edges: 1, secret: SECRET });

  async function ctlToken(args) {
    const r = await gw.ctl(['token', ...args]);
    assert.equal(r.code, 0, `telegraphy-ctl token: code=${r.code} stderr=${r.stderr}`);
    return r.stdout.trim();
  }

  function connect(token, spy) {
    const states = [];
    const client = Telegraphy.connect({
      url: gw.edgeUrl(0),
      autobahn: spy.module,
      token,
      reconnect: FAST,
      onstate: (s) => states.push(s),
      onerror: () => {},
    });
    client.states = states;
    gw.track(client);
    return client;
  }

  before(async () => {
    await gw.start();
    await gw.register(AUTH_TOPIC, ['--audience', 'authenticated']);
    await gw.waitTicketAuth();
  }, { timeout: 60000 });

  after(async () => {
    await gw.stop().catch(() => {});
  });

  // The WELCOME of a ctl-minted page token carries the user's authid and
  // role, authmethod ticket and a resume token for the same client id.
  test('a page token from telegraphy-ctl token opens a ticket session with the user id as authid', { timeout: 30000 }, gw.wrap(async () => {
    const token = await ctlToken(['--user', '42', '--name', 'alice']);
    const spy = spyAutobahn();
    const client = connect(token, spy);
    await waitState(client, 'open');
    const s = client.session;
    assert.equal(s.authid, '42');
    assert.equal(s.authrole, 'user');
    assert.equal(s.authmethod, 'ticket');
    assert.equal(typeof s.authextra?.client_id, 'string');
    assert.equal(tokenPayload(s.authextra.resume_token).cid, s.authextra.client_id);
    assert.deepEqual(spy.tickets, [token]);
  }));

  test('a staff page token opens a session with authrole staff', { timeout: 30000 }, gw.wrap(async () => {
    const token = await ctlToken(['--user', '7', '--groups', 'staff']);
    const client = connect(token, spyAutobahn());
    await waitState(client, 'open');
    assert.equal(client.session.authid, '7');
    assert.equal(client.session.authrole, 'staff');
  }));

  // kill -9 of the edge: the client reconnects with the resume token (not
  // the spent page token), gets the same authid and client id, re-subscribes
  // to an authenticated-only type and receives from it.
  test('after the edge is killed and restarted the client resumes with the same authid and client id', { timeout: 60000 }, gw.wrap(async () => {
    const token = await ctlToken(['--user', '42']);
    const spy = spyAutobahn();
    const client = connect(token, spy);
    const inbox = new Inbox();
    await client.subscribe(AUTH_TOPIC, (data) => inbox.push(data));
    await waitState(client, 'open');
    const first = client.session;
    const cid = first.authextra.client_id;
    const resume = first.authextra.resume_token;
    await publishUntilReceived(gw, inbox, 'the event before the restart');

    await gw.killEdge(0);
    await waitState(client, 'reconnecting');
    gw.restartEdge(0);
    await gw.waitEdgeHealthy(0);
    await waitState(client, 'open', 30000);

    const again = client.session;
    assert.equal(again.authid, '42');
    assert.equal(again.authmethod, 'ticket');
    assert.equal(again.authrole, 'user');
    assert.equal(again.authextra.client_id, cid);
    assert.equal(spy.tickets[0], token);
    assert.ok(spy.tickets.length >= 2, `tickets sent: ${spy.tickets.length}`);
    assert.equal(spy.tickets.at(-1), resume, 'the reconnect answered with the resume token of the first WELCOME');
    assert.equal(spy.tickets.filter((t) => t === token).length, 1, 'the single-use page token was offered again');

    // The re-subscription is accepted (authenticated) and delivers.
    await publishUntilReceived(gw, inbox, 'an event after the restart');
  }));

  // A page token already spent (by another tab, or an attacker) is refused
  // and the client, with nothing else to offer and no onTokenExpired, asks
  // for a fresh token through the hook when one is given.
  test('a spent page token is refused and onTokenExpired supplies a fresh one', { timeout: 30000 }, gw.wrap(async () => {
    const token = await ctlToken(['--user', '42']);
    const firstSpy = spyAutobahn();
    const a = connect(token, firstSpy);
    await waitState(a, 'open');
    const fresh = await ctlToken(['--user', '42']);
    const spy = spyAutobahn();
    let asked = 0;
    const states = [];
    const b = Telegraphy.connect({
      url: gw.edgeUrl(0),
      autobahn: spy.module,
      token,
      reconnect: FAST,
      onstate: (s) => states.push(s),
      onerror: () => {},
      onTokenExpired: () => {
        asked++;
        return fresh;
      },
    });
    b.states = states;
    gw.track(b);
    await waitState(b, 'open', 20000);
    assert.equal(asked, 1);
    assert.deepEqual(spy.tickets.slice(0, 2), [token, fresh]);
    assert.equal(b.session.authid, '42');
    assert.notEqual(b.session.authextra.client_id, a.session.authextra.client_id);
  }));

  gw.stopTest(test);
});
