// telegraphy.js against the real gateway (router, ingest, edge from
// TELEGRAPHY_BIN_DIR, default build-asan/bin), started by the integration
// harness on free loopback ports. The client under test is the very file the
// Django app serves (django_telegraphy/static/telegraphy/telegraphy.js),
// given the npm `autobahn` module instead of the browser global. This
// gateway runs without persist; durable.test.mjs has the one with it.
// Every wait is a bounded wait on a condition.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, Inbox, autobahn, waitFor } from '../integration/harness.mjs';
import { Telegraphy } from '../../django_telegraphy/static/telegraphy/telegraphy.js';

const TOPIC = 'jstest.board.item.created';
const OTHER = 'jstest.board.item.deleted';
const GUARANTEED = 'jstest.board.order.shipped';
// Small delays so that a reconnect test takes seconds, not tens of seconds.
const FAST = { initialDelay: 0.05, maxDelay: 0.5, factor: 2, jitter: true };

// A client whose states are recorded; closed by the gateway's cleanup.
function connect(gw, extra = {}) {
  const states = [];
  const client = Telegraphy.connect({
    url: gw.edgeUrl(0),
    autobahn,
    reconnect: FAST,
    onstate: (s) => states.push(s),
    onerror: () => {},
    ...extra,
  });
  client.states = states;
  gw.track(client);
  return client;
}

function waitState(client, state, timeoutMs = 10000) {
  return waitFor(`client state ${state} (states so far: ${client.states.join(' -> ')})`,
    () => client.state === state, { timeoutMs, intervalMs: 10 });
}

// subscribe() with an Inbox of {data, info} as the handler.
async function subscribeInbox(client, topic, options) {
  const inbox = new Inbox();
  const handle = await client.subscribe(topic, (data, info) => inbox.push({ data, info }), options);
  return { handle, inbox };
}

describe('telegraphy.js against the gateway', () => {
  const gw = new Gateway({ name: 'jsclient', edges: 1 });

  before(async () => {
    await gw.start();
    await gw.register(TOPIC, ['--fields', 'title,room']);
    await gw.register(OTHER);
    await gw.register(GUARANTEED, ['--guaranteed']);
    await gw.waitEventTypes([TOPIC, OTHER, GUARANTEED]);
  }, { timeout: 60000 });

  after(async () => {
    await gw.stop().catch(() => {});
  });

  // connect() starts in `connecting`, reaches `open`, and nothing else
  // happens on a healthy gateway.
  test('a new client goes from connecting to open', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    assert.equal(client.states[0], 'connecting');
    await waitState(client, 'open');
    assert.deepEqual(client.states, ['connecting', 'open']);
    assert.equal(client.session.authrole, 'anonymous');
  }));

  // A page token is offered (ticket + anonymous) to an edge started without
  // a secret, which cannot verify tokens: it answers with an anonymous
  // session and the client works (tests/js/auth.test.mjs covers the edge
  // with a secret).
  test('a client with a token gets an anonymous session from an edge without a secret', { timeout: 20000 }, gw.wrap(async () => {
    const payload = Buffer.from(JSON.stringify({ typ: 'ws', sub: '42', exp: 4102444800, jti: 'x' })).toString('base64url');
    const client = connect(gw, { token: `v1.${payload}.sig` });
    await waitState(client, 'open');
    assert.equal(client.session.authmethod, 'anonymous');
    const list = await client.events();
    assert.ok(list.some((t) => t.name === TOPIC));
  }));

  // subscribe() resolves once the gateway confirmed, and an event
  // published afterwards reaches the handler with its data and details.
  test('a subscription receives the events published after it resolved', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    const { handle, inbox } = await subscribeInbox(client, TOPIC);
    assert.equal(typeof handle.id, 'number');
    const before = Date.now() * 1000;
    await gw.publish(TOPIC, { title: 'first', room: 'lobby' });
    const { data, info } = await inbox.waitFor(() => true, 5000, 'the event');
    assert.deepEqual(data, { title: 'first', room: 'lobby' });
    assert.equal(info.topic, TOPIC);
    assert.equal(info.subscription, handle);
    assert.ok(Number.isInteger(info.publication) && info.publication > 0);
    assert.ok(info.ts >= before - 5e6 && info.ts <= Date.now() * 1000 + 5e6, `ts ${info.ts} is not now in µs`);
    assert.equal(info.guaranteed, false);
  }));

  // subscribe() called before the session opened waits for it.
  test('a subscription made while connecting is sent once the session opens', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    assert.equal(client.state, 'connecting');
    const { inbox } = await subscribeInbox(client, TOPIC);
    await gw.publish(TOPIC, { title: 'early', room: 'r' });
    await inbox.waitFor((e) => e.data.title === 'early', 5000, 'the event');
  }));

  // After unsubscribe() the handler is not called again, while another
  // subscription of the same client still receives events.
  test('an unsubscribed handler receives nothing more', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    const a = await subscribeInbox(client, TOPIC);
    const b = await subscribeInbox(client, TOPIC, { match: 'prefix' });
    await client.unsubscribe(a.handle);
    assert.equal(a.handle.active, false);
    await gw.publish(TOPIC, { title: 'after', room: 'r' });
    await b.inbox.waitFor((e) => e.data.title === 'after', 5000, 'the event on the other subscription');
    // b received it, so a would have by now (same edge, same message order).
    assert.equal(a.inbox.items.length, 0);
    await client.unsubscribe(a.handle); // twice is fine
  }));

  // A prefix subscription reports each event's concrete topic.
  test('a prefix subscription receives events of every matching type with their topic', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    const { inbox } = await subscribeInbox(client, 'jstest.board.item', { match: 'prefix' });
    await gw.publish(TOPIC, { title: 'c', room: 'r' });
    await gw.publish(OTHER, { title: 'd' });
    await inbox.waitCount(2, 5000);
    assert.deepEqual(inbox.items.map((e) => e.info.topic).sort(), [OTHER, TOPIC].sort());
  }));

  // events() returns telegraphy.events.list's list.
  test('events() lists the registered event types with their flags', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    const list = await client.events();
    const byName = Object.fromEntries(list.map((t) => [t.name, t]));
    assert.deepEqual([...byName[TOPIC].fields].sort(), ['room', 'title']);
    assert.equal(byName[GUARANTEED].guaranteed, true);
    assert.equal(byName[TOPIC].guaranteed, false);
  }));

  // A filter is a channel: only matching events reach the handler.
  test('a filtered subscription receives only the events its filter matches', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    const lobby = await subscribeInbox(client, TOPIC, { filter: 'room == "lobby"' });
    const all = await subscribeInbox(client, TOPIC);
    await gw.publish(TOPIC, { title: 'x', room: 'kitchen' });
    await gw.publish(TOPIC, { title: 'y', room: 'lobby' });
    await all.inbox.waitCount(2, 5000);
    await lobby.inbox.waitFor((e) => e.data.title === 'y', 5000, 'the lobby event');
    assert.deepEqual(lobby.inbox.items.map((e) => e.data.title), ['y']);
  }));

  // A bad filter rejects subscribe() with the gateway's error and column;
  // the client stays open and usable.
  test('a bad filter rejects subscribe with invalid_filter and the client stays open', { timeout: 20000 }, gw.wrap(async () => {
    const client = connect(gw);
    await assert.rejects(client.subscribe(TOPIC, () => {}, { filter: 'room ==' }), (e) => {
      assert.equal(e.uri, 'telegraphy.error.invalid_filter');
      assert.match(e.message, /column/);
      return true;
    });
    await assert.rejects(client.subscribe('jstest.no.such.type', () => {}), (e) => e.uri === 'telegraphy.error.unknown_event');
    assert.equal(client.state, 'open');
    const { inbox } = await subscribeInbox(client, TOPIC);
    await gw.publish(TOPIC, { title: 'still', room: 'r' });
    await inbox.waitFor(() => true, 5000, 'an event after the refusals');
  }));

  // Without persist the gateway refuses guaranteed events (nothing could
  // keep them): the durable side of the client (persistent, since, acks,
  // gaps) is tested against a gateway with persist in durable.test.mjs.

  // The edge dies (kill -9) and comes back on the same port: the client
  // goes reconnecting -> open on its own, re-subscribes every live
  // subscription with the same handler, and receives the next event.
  test('after the edge is killed and restarted the client reconnects, re-subscribes and receives the next event', { timeout: 60000 }, gw.wrap(async () => {
    const client = connect(gw);
    const plain = await subscribeInbox(client, TOPIC);
    const lobby = await subscribeInbox(client, TOPIC, { filter: 'room == "lobby"' });
    const gone = await subscribeInbox(client, OTHER);
    await client.unsubscribe(gone.handle);
    await waitState(client, 'open');
    const opensBefore = client.stats().opens;

    await gw.killEdge(0);
    await waitState(client, 'reconnecting');
    gw.restartEdge(0);
    await gw.waitEdgeHealthy(0);
    await waitState(client, 'open', 20000);
    const tail = client.states.slice(client.states.lastIndexOf('reconnecting'));
    assert.deepEqual(tail, ['reconnecting', 'open']);
    assert.equal(client.stats().opens, opensBefore + 1);
    assert.equal(plain.handle.active, true);
    assert.equal(typeof plain.handle.id, 'number');

    // The restarted edge may still be learning types from the router:
    // publish numbered probes until one arrives (bounded).
    let probe = 0;
    await waitFor('an event after the restart on both subscriptions', async () => {
      const p = ++probe;
      await gw.publish(TOPIC, { title: `after-${p}`, room: 'lobby' });
      const deadline = Date.now() + 1000;
      while (Date.now() < deadline) {
        const got = (s) => s.inbox.items.some((e) => e.data.title === `after-${p}`);
        if (got(plain) && got(lobby)) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return false;
    }, { timeoutMs: 20000, intervalMs: 50 });
    await gw.publish(OTHER, { title: 'nobody' });
    await gw.publish(TOPIC, { title: 'marker', room: 'lobby' });
    await plain.inbox.waitFor((e) => e.data.title === 'marker', 5000, 'the marker');
    assert.equal(gone.inbox.items.length, 0, 'an unsubscribed handle came back after the reconnect');
  }));

  // close() ends in `closed`, rejects what waits for a session, and the
  // client does not come back even when the edge restarts.
  test('close() leads to closed and no reconnect', { timeout: 30000 }, gw.wrap(async () => {
    const client = connect(gw);
    await waitState(client, 'open');
    await client.close();
    assert.equal(client.state, 'closed');
    assert.deepEqual(client.states.slice(-1), ['closed']);
    await assert.rejects(client.events(), /closed/);
    await assert.rejects(client.subscribe(TOPIC, () => {}), /closed/);
    await client.close(); // twice is fine
    const opens = client.stats().opens;
    // A reconnect would have happened within a few backoff caps (0.5 s).
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(client.stats().opens, opens);
    assert.equal(client.state, 'closed');
  }));

  // close() while the gateway is unreachable stops the retry loop.
  test('close() while reconnecting stops retrying', { timeout: 30000 }, gw.wrap(async () => {
    const states = [];
    const client = Telegraphy.connect({ url: 'ws://127.0.0.1:9/ws', autobahn, reconnect: FAST, onstate: (s) => states.push(s) });
    await waitFor('a failed attempt', () => client._attempt >= 2, { timeoutMs: 10000, intervalMs: 10 });
    assert.equal(client.state, 'connecting');
    await client.close();
    const attempts = client._attempt;
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(client._attempt, attempts);
    assert.deepEqual(states, ['connecting', 'closed']);
  }));

  gw.stopTest(test);
});
