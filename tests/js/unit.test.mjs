// telegraphy.js without a gateway: the backoff function with an injected
// random source, the bounded dedupe set, and the client driven through a
// stand-in AutobahnJS (fake_autobahn.mjs) for the rules a real gateway
// cannot be made to show on demand: duplicates within one session, the ack
// batching rule (cumulative while in order, explicit ids otherwise, flush
// by time and by count), out-of-order ids, a gap answered again and again,
// a gateway without telegraphy.ack, ticket/resume-token handshakes, the
// resume cookie, onTokenExpired, transient re-subscribe refusals. What the
// real gateway does with persistent/since subscriptions, acks and gaps is
// in durable.test.mjs.

import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { waitFor } from '../integration/wamp.mjs';
import {
  Telegraphy, backoffDelay, RecentIds, DEFAULT_RECONNECT, DEDUPE_CAPACITY, RESUME_COOKIE,
  ACK_FLUSH_MS, ACK_BATCH_MAX, MAX_GAPS_IN_A_ROW,
} from '../../django_telegraphy/static/telegraphy/telegraphy.js';
import { FakeAutobahn } from './fake_autobahn.mjs';

const NO_DELAY = { initialDelay: 0, maxDelay: 0, factor: 2, jitter: false };
const tick = () => new Promise((r) => setTimeout(r, 0));

function token(payload) {
  return `v1.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.signature`;
}

const clients = [];
function connect(fake, extra = {}) {
  const states = [];
  const client = Telegraphy.connect({
    url: 'ws://127.0.0.1:8765/ws', autobahn: fake, reconnect: NO_DELAY,
    onstate: (s) => states.push(s), onerror: () => {}, ...extra,
  });
  client.states = states;
  clients.push(client);
  return client;
}
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

function waitConnections(fake, n) {
  return waitFor(`${n} connection attempts`, () => fake.connections.length >= n, { timeoutMs: 3000, intervalMs: 1 });
}

describe('backoffDelay', () => {
  // Without jitter the delay is initialDelay * factor^n until it reaches maxDelay.
  test('the delay cap doubles per attempt from 0.5 s and stops at 30 s', () => {
    const caps = Array.from({ length: 10 }, (_, n) => backoffDelay(n, { ...DEFAULT_RECONNECT, jitter: false }));
    assert.deepEqual(caps, [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]);
  });

  // Full jitter: the delay is random() times the cap, so it spans [0, cap).
  test('full jitter scales the cap by the injected random value', () => {
    assert.equal(backoffDelay(0, DEFAULT_RECONNECT, () => 0), 0);
    assert.equal(backoffDelay(3, DEFAULT_RECONNECT, () => 0.5), 2);
    assert.equal(backoffDelay(2, DEFAULT_RECONNECT, () => 0.25), 0.5);
    assert.ok(backoffDelay(20, DEFAULT_RECONNECT, () => 0.999999) < 30);
  });

  // A very large attempt number (factor^n = Infinity) still gives the cap.
  test('a huge attempt number gives the maximum delay, not NaN or Infinity', () => {
    assert.equal(backoffDelay(5000, { ...DEFAULT_RECONNECT, jitter: false }), 30);
    assert.equal(backoffDelay(5000, DEFAULT_RECONNECT, () => 0.5), 15);
  });

  // A partial policy keeps the defaults for what it does not name.
  test('a custom policy overrides only what it names', () => {
    const p = { initialDelay: 0.1, factor: 3, jitter: false };
    assert.deepEqual([0, 1, 2, 3, 6].map((n) => backoffDelay(n, p)), [0.1, 0.1 * 3, 0.1 * 9, 0.1 * 27, 30]
      .map((x, i) => (i === 4 ? 30 : x)));
  });
});

describe('RecentIds', () => {
  // Only `capacity` keys are kept; the least recently seen goes first.
  test('a bounded set forgets the least recently seen key', () => {
    const r = new RecentIds(3);
    for (const k of [1, 2, 3]) assert.equal(r.seen(k), false);
    assert.equal(r.seen(1), true); // 1 is now the most recent
    assert.equal(r.seen(4), false); // evicts 2
    assert.equal(r.size, 3);
    assert.equal(r.seen(1), true);
    assert.equal(r.seen(3), true);
    assert.equal(r.seen(2), false); // was evicted
  });

  test('the default capacity is 1024', () => {
    assert.equal(DEDUPE_CAPACITY, 1024);
    const r = new RecentIds();
    for (let i = 0; i < 2000; i++) r.seen(i);
    assert.equal(r.size, 1024);
    assert.equal(r.seen(2000 - 1024), true);
    assert.equal(r.seen(0), false);
  });
});

describe('delivery through the handler path', () => {
  async function subscribed(fake, client, topic = 't.a', options) {
    const got = [];
    const p = client.subscribe(topic, (data, info) => got.push({ data, info }), options);
    const session = fake.welcome();
    const handle = await p;
    return { got, handle, session };
  }

  // A publication delivered twice to one subscription reaches the handler once.
  test('a duplicate publication id is dropped', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { got, handle, session } = await subscribed(fake, client);
    session.event(handle.id, 7, { ts: 1 }, { n: 1 });
    session.event(handle.id, 7, { ts: 1 }, { n: 1 });
    session.event(handle.id, 8, { ts: 2 }, { n: 2 });
    assert.deepEqual(got.map((e) => e.data.n), [1, 2]);
    assert.equal(client.stats().duplicates, 1);
    assert.equal(handle.lastPublication, 8);
  });

  // At the replay -> live handover the same publication may come twice (once
  // replayed, once live): the handler sees it once, in order.
  test('a publication both replayed and live reaches the handler once', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { got, handle, session } = await subscribed(fake, client, 't.a', { since: 1 });
    for (const id of [2, 3, 4]) session.event(handle.id, id, { _replay: true }, { n: id });
    for (const id of [4, 5]) session.event(handle.id, id, {}, { n: id });
    assert.deepEqual(got.map((e) => [e.data.n, e.info.replay]), [[2, true], [3, true], [4, true], [5, false]]);
    assert.equal(client.stats().duplicates, 1);
  });

  // Two subscriptions matching the same publication each get it once.
  test('one publication reaches every subscription it matches', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const a = await subscribed(fake, client, 't.a');
    const bGot = [];
    const b = await client.subscribe('t', (d) => bGot.push(d), { match: 'prefix' });
    a.session.event(a.handle.id, 9, { topic: 't.a', ts: 1 }, { n: 1 });
    a.session.event(b.id, 9, { topic: 't.a', ts: 1 }, { n: 1 });
    assert.equal(a.got.length, 1);
    assert.equal(bGot.length, 1);
    assert.equal(client.stats().duplicates, 0);
  });

  // The handler gets the raw details AutobahnJS does not pass on.
  test('the handler gets topic, publication, ts and the guaranteed and replay flags', async () => {
    const fake = new FakeAutobahn();
    fake.procedures['telegraphy.ack'] = () => null;
    const client = connect(fake);
    const { got, handle, session } = await subscribed(fake, client, 't', { match: 'prefix' });
    session.event(handle.id, 11, { topic: 't.x', ts: 1700000000000001, _guaranteed: true, _replay: true }, { a: 1 });
    session.event(handle.id, 12, { topic: 't.x', ts: 1700000000000002 }, { a: 2 });
    assert.deepEqual(got[0].info, {
      topic: 't.x', publication: 11, ts: 1700000000000001, guaranteed: true, replay: true, subscription: handle,
    });
    assert.equal(got[1].info.replay, false);
    assert.equal(got[1].info.guaranteed, false);
    assert.equal(client.stats().replayed, 1);
  });

  // A throwing handler is reported, the event still acked, delivery goes on.
  test('a handler that throws is reported and its event is still acked', async () => {
    const fake = new FakeAutobahn();
    fake.procedures['telegraphy.ack'] = () => null;
    const errors = [];
    const client = connect(fake, { onerror: (e, ctx) => errors.push([e.message, ctx.during]) });
    const p = client.subscribe('t', (d) => { if (d.bad) throw new Error('boom'); }, { persistent: true });
    const session = fake.welcome();
    const handle = await p;
    session.event(handle.id, 41, { _guaranteed: true }, { bad: true });
    session.event(handle.id, 42, { _guaranteed: true }, { bad: false });
    assert.deepEqual(errors, [['boom', 'handler']]);
    await waitFor('the ack', () => session.calls.length === 1, { timeoutMs: 1000, intervalMs: 1 });
    assert.deepEqual(session.calls[0].kwargs, { subscription: handle.id, upto: 42 });
  });

  // Options map to the WAMP SUBSCRIBE options of DESIGN §2.3.
  test('subscribe options map to match, _filter, _persistent and _since', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    fake.welcome();
    const s = fake.last.session;
    await client.subscribe('t', () => {}, { match: 'prefix', filter: 'room == "a"', persistent: true, since: 5 });
    await client.subscribe('t.a', () => {});
    assert.deepEqual(s.subscribeLog[0].options, { match: 'prefix', _filter: 'room == "a"', _persistent: true, _since: 5 });
    assert.deepEqual(s.subscribeLog[1].options, {});
  });
});

describe('acks (the batching rule, DESIGN §2.6)', () => {
  async function persistent(fake, client, topic = 't.a') {
    fake.procedures['telegraphy.ack'] = () => null;
    const got = [];
    const p = client.subscribe(topic, (data, info) => got.push(info.publication), { persistent: true });
    const session = fake.welcome();
    return { got, handle: await p, session };
  }
  const acks = (session) => session.calls.filter((c) => c.procedure === 'telegraphy.ack');

  // In-order guaranteed events of one persistent subscription are acked by
  // ONE cumulative CALL {subscription, upto} sent ACK_FLUSH_MS after the
  // first of them, not one CALL per event.
  test('in-order events are acked by one cumulative call after the flush interval', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { handle, session } = await persistent(fake, client);
    const started = Date.now();
    for (const id of [101, 102, 105, 109]) session.event(handle.id, id, { _guaranteed: true }, {});
    assert.equal(acks(session).length, 0, 'nothing is sent at once');
    await waitFor('the batched ack', () => acks(session).length === 1, { timeoutMs: 2000, intervalMs: 1 });
    assert.ok(Date.now() - started >= ACK_FLUSH_MS - 5, 'flushed after the interval');
    assert.deepEqual(acks(session)[0], { procedure: 'telegraphy.ack', args: [], kwargs: { subscription: handle.id, upto: 109 } });
    await waitFor('the result', () => client.stats().acked === 4, { timeoutMs: 1000, intervalMs: 1 });
    assert.equal(client.stats().ackCalls, 1);
  });

  // ACK_BATCH_MAX pending publications flush at once, without waiting.
  test('the batch is flushed at once when it reaches ACK_BATCH_MAX publications', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { handle, session } = await persistent(fake, client);
    for (let i = 1; i <= ACK_BATCH_MAX; i++) session.event(handle.id, 1000 + i, { _guaranteed: true }, {});
    assert.deepEqual(acks(session).map((c) => c.kwargs), [{ subscription: handle.id, upto: 1000 + ACK_BATCH_MAX }]);
    session.event(handle.id, 5000, { _guaranteed: true }, {});
    assert.equal(acks(session).length, 1, 'the next one starts a new batch');
    await waitFor('the second batch', () => acks(session).length === 2, { timeoutMs: 2000, intervalMs: 1 });
    assert.deepEqual(acks(session)[1].kwargs, { subscription: handle.id, upto: 5000 });
  });

  // An id below one already queued on the session (out of order) cannot be
  // covered by a cumulative ack: that batch goes as an explicit id list.
  test('a batch with an id out of order is acked by explicit ids', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { handle, session } = await persistent(fake, client);
    for (const id of [10, 30, 20]) session.event(handle.id, id, { _guaranteed: true }, {});
    await waitFor('the ack', () => acks(session).length === 1, { timeoutMs: 2000, intervalMs: 1 });
    assert.deepEqual(acks(session)[0], { procedure: 'telegraphy.ack', args: [[10, 30, 20]] });
  });

  // Each persistent subscription gets its own cumulative call; a plain
  // subscription's guaranteed events are never acked (nothing is stored
  // for it, the gateway would ignore the ack); a non-guaranteed event
  // neither.
  test('one call per persistent subscription, none for plain subscriptions or plain events', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const a = await persistent(fake, client, 't.a');
    const b = await client.subscribe('t.b', () => {}, { persistent: true });
    const plain = await client.subscribe('t.c', () => {});
    a.session.event(a.handle.id, 7, { _guaranteed: true }, {});
    a.session.event(b.id, 8, { _guaranteed: true }, {});
    a.session.event(plain.id, 9, { _guaranteed: true }, {});
    a.session.event(a.handle.id, 10, {}, {});
    await waitFor('the acks', () => acks(a.session).length === 2, { timeoutMs: 2000, intervalMs: 1 });
    await new Promise((r) => setTimeout(r, ACK_FLUSH_MS * 2));
    assert.deepEqual(acks(a.session).map((c) => c.kwargs).sort((x, y) => x.upto - y.upto), [
      { subscription: a.handle.id, upto: 7 }, { subscription: b.id, upto: 8 },
    ]);
  });

  // A duplicate within one session is covered by what was queued already;
  // redelivered on a new session (the old session's ack was lost with it)
  // it is dropped but acked again, on the new session.
  test('a duplicate is acked again only on a new session', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { got, handle, session } = await persistent(fake, client);
    session.event(handle.id, 21, { _guaranteed: true }, {});
    session.event(handle.id, 21, { _guaranteed: true }, {});
    fake.drop(); // before the flush: the pending ack dies with the session
    assert.equal(acks(session).length, 0);
    await waitConnections(fake, 2);
    const next = fake.welcome();
    await waitFor('re-subscribed', () => handle._session === next, { timeoutMs: 1000, intervalMs: 1 });
    next.event(handle.id, 21, { _guaranteed: true, _replay: true }, {});
    next.event(handle.id, 22, { _guaranteed: true }, {});
    await waitFor('the ack on the new session', () => acks(next).length === 1, { timeoutMs: 2000, intervalMs: 1 });
    assert.deepEqual(acks(next)[0].kwargs, { subscription: handle.id, upto: 22 });
    assert.deepEqual(got, [21, 22]);
    assert.equal(client.stats().duplicates, 2);
  });

  // close() sends what is pending before its GOODBYE.
  test('close() flushes the pending acks', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const { handle, session } = await persistent(fake, client);
    const subscription = handle.id;
    session.event(subscription, 31, { _guaranteed: true }, {});
    await client.close();
    assert.deepEqual(acks(session).map((c) => c.kwargs), [{ subscription, upto: 31 }]);
  });

  // No telegraphy.ack on the gateway: one refused CALL, then silence.
  test('a gateway without telegraphy.ack is asked once per session', async () => {
    const fake = new FakeAutobahn();
    const warnings = [];
    const client = connect(fake, { onerror: (e) => warnings.push(e) });
    const p = client.subscribe('t.a', () => {}, { persistent: true });
    const session = fake.welcome();
    const handle = await p;
    session.event(handle.id, 31, { _guaranteed: true }, {});
    await waitFor('the refusal', () => client.stats().ackUnsupported === 1, { timeoutMs: 2000, intervalMs: 1 });
    session.event(handle.id, 32, { _guaranteed: true }, {});
    await new Promise((r) => setTimeout(r, ACK_FLUSH_MS * 2));
    assert.equal(session.calls.length, 1);
    assert.equal(client.stats().ackErrors, 0);
    assert.deepEqual(warnings, []);
  });
});

describe('since and gaps (DESIGN §2.3)', () => {
  const gap = (oldest) => ({ error: 'telegraphy.error.gap', kwargs: { oldest } });

  // `since` must be an integer in [1, 2^53]: anything else is refused by the
  // client at once, with the gateway's error uri, and nothing is sent.
  test('a since that is not an integer in [1, 2^53] is refused before sending', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const s = fake.welcome();
    for (const since of [0, -1, 1.5, '12', 2 ** 53 + 2]) {
      await assert.rejects(client.subscribe('t', () => {}, { since }), (e) => e.uri === 'wamp.error.invalid_argument', `since ${since}`);
    }
    assert.equal(s.subscribeLog.length, 0);
    await client.subscribe('t', () => {}, { since: 2 ** 53 });
    assert.deepEqual(s.subscribeLog[0].options, { _since: 2 ** 53 });
  });

  // A gap calls ongap({oldest}) and then subscribes again with
  // `_since: oldest - 1`; subscribe() resolves once that one succeeds.
  test('a gap calls ongap with oldest and re-subscribes from oldest - 1', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const s = fake.welcome();
    const seen = [];
    fake.subscribeRefusals.push(gap(500));
    const handle = await client.subscribe('t', () => {}, { since: 3, ongap: (info) => seen.push(info) });
    assert.deepEqual(s.subscribeLog.map((l) => l.options), [{ _since: 3 }, { _since: 499 }]);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].oldest, 500);
    assert.equal(seen[0].subscription, handle);
    assert.equal(handle.gaps, 1);
    assert.equal(client.stats().gaps, 1);
  });

  // ongap may be async (the page reloads its state): the re-subscription
  // waits for it.
  test('an async ongap is awaited before the re-subscription', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const s = fake.welcome();
    let release;
    fake.subscribeRefusals.push(gap(40));
    const p = client.subscribe('t', () => {}, { persistent: true, ongap: () => new Promise((r) => { release = r; }) });
    await waitFor('ongap', () => release, { timeoutMs: 1000, intervalMs: 1 });
    await tick();
    assert.equal(s.subscribeLog.length, 1);
    release();
    await p;
    assert.deepEqual(s.subscribeLog.map((l) => l.options), [{ _persistent: true }, { _persistent: true, _since: 39 }]);
  });

  // Nothing held (oldest null): a `since` subscription goes on live only;
  // a persistent one resumes after the last publication it delivered.
  test('a gap with oldest null re-subscribes without since, or a persistent one from its last publication', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const s1 = fake.welcome();
    fake.subscribeRefusals.push(gap(null));
    const seen = [];
    await client.subscribe('t.a', () => {}, { since: 5, ongap: (i) => seen.push(i.oldest) });
    assert.deepEqual(s1.subscribeLog.map((l) => l.options), [{ _since: 5 }, {}]);
    assert.deepEqual(seen, [null]);
    const fake2 = new FakeAutobahn();
    const other = connect(fake2);
    const s2 = fake2.welcome();
    const h = await other.subscribe('t.b', () => {}, { persistent: true, ongap: () => {} });
    s2.event(h.id, 70, {}, {});
    fake2.drop();
    await waitConnections(fake2, 2);
    fake2.subscribeRefusals.push(gap(null));
    const s3 = fake2.welcome();
    await waitFor('re-subscribed', () => h._session === s3, { timeoutMs: 1000, intervalMs: 1 });
    assert.deepEqual(s3.subscribeLog.map((l) => l.options), [{ _persistent: true }, { _persistent: true, _since: 70 }]);
  });

  // oldest 1: `oldest - 1` is 0, which the gateway refuses (`_since` is a
  // publication id in [1, 2^53]); the re-subscribe carries no `_since` then
  // (a persistent one without a last publication resumes from the start).
  test('a gap with oldest 1 never re-subscribes with _since 0', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const s = fake.welcome();
    fake.subscribeRefusals.push(gap(1));
    await client.subscribe('t.a', () => {}, { since: 5, ongap: () => {} });
    fake.subscribeRefusals.push(gap(1));
    await client.subscribe('t.b', () => {}, { persistent: true, ongap: () => {} });
    assert.deepEqual(s.subscribeLog.map((l) => l.options),
      [{ _since: 5 }, {}, { _persistent: true }, { _persistent: true }]);
  });

  // Without ongap a gap is not skipped silently: subscribe() rejects with
  // the gap, carrying oldest.
  test('without ongap a gap rejects subscribe with its oldest', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    fake.welcome();
    fake.subscribeRefusals.push(gap(77));
    await assert.rejects(client.subscribe('t', () => {}, { since: 1 }), (e) => e.uri === 'telegraphy.error.gap' && e.oldest === 77);
  });

  // A store that keeps answering gap does not make the client loop: after
  // MAX_GAPS_IN_A_ROW the subscription fails with the gap.
  test('gaps in a row beyond the bound fail the subscription', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const s = fake.welcome();
    for (let i = 0; i <= MAX_GAPS_IN_A_ROW; i++) fake.subscribeRefusals.push(gap(9));
    let calls = 0;
    await assert.rejects(client.subscribe('t', () => {}, { since: 1, ongap: () => calls++ }), (e) => e.uri === 'telegraphy.error.gap');
    assert.equal(calls, MAX_GAPS_IN_A_ROW);
    assert.equal(s.subscribeLog.length, MAX_GAPS_IN_A_ROW + 1);
  });

  // A persistent subscription that resumes from a position (after a gap)
  // moves it with each cumulative ack the gateway confirmed.
  test('a persistent position advances with the confirmed cumulative acks', async () => {
    const fake = new FakeAutobahn();
    fake.procedures['telegraphy.ack'] = () => null;
    const client = connect(fake);
    const s1 = fake.welcome();
    fake.subscribeRefusals.push(gap(100));
    const h = await client.subscribe('t', () => {}, { persistent: true, ongap: () => {} });
    for (const id of [100, 101, 102]) s1.event(h.id, id, { _guaranteed: true, _replay: true }, {});
    await waitFor('the ack confirmed', () => client.stats().acked === 3, { timeoutMs: 2000, intervalMs: 1 });
    s1.event(h.id, 103, { _guaranteed: true }, {}); // delivered, not yet acked
    fake.drop();
    await waitConnections(fake, 2);
    const s2 = fake.welcome();
    await waitFor('re-subscribed', () => h._session === s2, { timeoutMs: 1000, intervalMs: 1 });
    assert.deepEqual(s2.subscribeLog[0].options, { _persistent: true, _since: 102 });
  });
});

describe('connection lifecycle', () => {
  // onstate reports the current state at once, then each change once;
  // the function it returns stops the reports.
  test('onstate reports the current state and every change, and can be removed', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const seen = [];
    const off = client.onstate((s) => seen.push(s));
    assert.deepEqual(seen, ['connecting']);
    fake.welcome();
    await waitFor('open', () => client.state === 'open', { timeoutMs: 1000, intervalMs: 1 });
    off();
    fake.drop();
    assert.deepEqual(seen, ['connecting', 'open']);
    assert.equal(client.state, 'reconnecting');
  });

  // An unreachable gateway keeps the client `connecting` (never opened),
  // with growing delays from the policy and the injected random source.
  test('failed attempts wait for the backoff delays and stay connecting', async () => {
    const fake = new FakeAutobahn();
    const delays = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = (fn, ms, ...rest) => {
      delays.push(ms);
      return realSetTimeout(fn, 0, ...rest);
    };
    try {
      const client = connect(fake, { reconnect: { initialDelay: 0.5, maxDelay: 2, factor: 2 }, random: () => 0.5 });
      // Polls with setImmediate, so that only the client's timers are recorded.
      const until = async (pred) => {
        for (let i = 0; i < 10000 && !pred(); i++) await new Promise((r) => setImmediate(r));
        assert.ok(pred());
      };
      for (let i = 1; i <= 4; i++) {
        await until(() => fake.connections.length >= i);
        fake.drop();
      }
      await until(() => fake.connections.length >= 5);
      assert.deepEqual(delays.slice(0, 4), [250, 500, 1000, 1000]);
      assert.deepEqual(client.states, ['connecting']);
      // An open resets the attempt counter: the next loss waits the first delay again.
      fake.welcome();
      await until(() => client.state === 'open');
      delays.length = 0;
      fake.drop();
      assert.equal(delays[0], 250);
      assert.equal(client.state, 'reconnecting');
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
  });

  // After a loss every live subscription is sent again with its options and
  // handler; an unsubscribed one is not.
  test('a reconnect re-subscribes every live subscription and delivers to the same handler', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const got = [];
    const p1 = client.subscribe('t.a', (d) => got.push(d), { filter: 'x == 1' });
    const p2 = client.subscribe('t.b', () => {});
    fake.welcome();
    const [h1, h2] = await Promise.all([p1, p2]);
    await client.unsubscribe(h2);
    fake.drop();
    assert.equal(client.state, 'reconnecting');
    await waitConnections(fake, 2);
    const s2 = fake.welcome();
    await waitFor('open', () => client.state === 'open', { timeoutMs: 1000, intervalMs: 1 });
    assert.deepEqual(s2.subscribeLog, [{ topic: 't.a', options: { _filter: 'x == 1' } }]);
    s2.event(h1.id, 50, {}, { v: 'again' });
    assert.deepEqual(got, [{ v: 'again' }]);
    assert.deepEqual(client.states, ['connecting', 'open', 'reconnecting', 'open']);
  });

  // Right after an edge restart the type may be unknown there for a moment:
  // the re-subscription is retried and `open` waits for it.
  test('a re-subscription refused as unknown_event is retried before open', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const p = client.subscribe('t.a', () => {});
    fake.welcome();
    const h = await p;
    fake.drop();
    await waitConnections(fake, 2);
    fake.subscribeRefusals.push('telegraphy.error.unknown_event', 'telegraphy.error.unknown_event');
    const s2 = fake.welcome();
    await waitFor('open', () => client.state === 'open', { timeoutMs: 3000, intervalMs: 1 });
    assert.equal(s2.subscribeLog.length, 3);
    assert.equal(h.active, true);
    assert.equal(h._session, s2);
  });

  // A first subscription to an unknown type fails at once (no retry).
  test('a first subscription refused by the gateway rejects with the error uri', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    fake.welcome();
    fake.subscribeRefusals.push('telegraphy.error.unknown_event');
    await assert.rejects(client.subscribe('t.zz', () => {}), (e) => e.uri === 'telegraphy.error.unknown_event');
    assert.equal(fake.last.session.subscribeLog.length, 1);
  });

  // close() closes the connection, ends in `closed`, rejects pending work.
  test('close() while connecting rejects pending subscriptions and never reconnects', async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    const p = client.subscribe('t', () => {});
    const ev = client.events();
    await client.close();
    await assert.rejects(p, /closed/);
    await assert.rejects(ev, /closed/);
    assert.equal(fake.connections.length, 1);
    assert.deepEqual(client.states, ['connecting', 'closed']);
  });
});

describe('close without an answer', () => {
  // A gateway that never answers GOODBYE does not keep close() pending.
  test('close() resolves within its deadline when the gateway never answers', { timeout: 10000 }, async () => {
    const fake = new FakeAutobahn();
    const client = connect(fake);
    fake.welcome();
    await waitFor('open', () => client.state === 'open', { timeoutMs: 1000, intervalMs: 1 });
    fake.last.close = () => {}; // swallowed: no onclose ever
    const started = Date.now();
    await client.close();
    assert.equal(client.state, 'closed');
    assert.ok(Date.now() - started < 5000);
    assert.equal(fake.connections.length, 1);
  });
});

describe('authentication (against the contract, DESIGN §2.4)', () => {
  // With a token: HELLO offers ticket and anonymous, authid = the token's
  // sub; the CHALLENGE is answered with the token.
  test('a token makes HELLO offer ticket and anonymous and answers the challenge', () => {
    const fake = new FakeAutobahn();
    const t = token({ typ: 'ws', sub: '42', exp: 1 });
    connect(fake, { token: t });
    assert.deepEqual(fake.last.options.authmethods, ['ticket', 'anonymous']);
    assert.equal(fake.last.options.authid, '42');
    assert.equal(fake.challenge(), t);
  });

  // Without a token the HELLO is a plain anonymous one.
  test('without a token HELLO offers no authmethods', () => {
    const fake = new FakeAutobahn();
    connect(fake);
    assert.equal(fake.last.options.authmethods, undefined);
    assert.equal(fake.last.options.onchallenge, undefined);
  });

  // The page token is single-use: after a ticket WELCOME with a resume
  // token, the next attempt answers with the resume token.
  test('after a ticket welcome the reconnect uses the resume token', async () => {
    const fake = new FakeAutobahn();
    const page = token({ typ: 'ws', sub: '42' });
    const resume = token({ typ: 'resume', sub: '42', cid: 'c1' });
    connect(fake, { token: page });
    fake.challenge();
    fake.welcome(fake.last, { authmethod: 'ticket', authrole: 'user', authextra: { client_id: 'c1', resume_token: resume, resume_expires: Date.now() / 1000 + 3600 } });
    fake.drop();
    await waitConnections(fake, 2);
    assert.equal(fake.challenge(), resume);
  });

  // Today's gateway gives an anonymous session without a challenge: the
  // page token was not spent and is offered again.
  test('an anonymous welcome does not spend the page token', async () => {
    const fake = new FakeAutobahn();
    const page = token({ typ: 'ws', sub: '42' });
    connect(fake, { token: page });
    fake.welcome();
    fake.drop();
    await waitConnections(fake, 2);
    assert.equal(fake.challenge(), page);
  });

  // A refused resume token is dropped; with no unused page token left the
  // client asks onTokenExpired for a fresh one and offers it next.
  test('a refused resume token leads to onTokenExpired and its fresh token', async () => {
    const fake = new FakeAutobahn();
    const page = token({ typ: 'ws', sub: '42' });
    const fresh = token({ typ: 'ws', sub: '42', jti: 'fresh' });
    let asked = 0;
    const client = connect(fake, { token: page, onTokenExpired: async () => { asked++; return fresh; } });
    fake.challenge();
    fake.welcome(fake.last, { authmethod: 'ticket', authextra: { resume_token: 'r1', resume_expires: 60 } });
    fake.drop();
    await waitConnections(fake, 2);
    assert.equal(fake.challenge(), 'r1');
    fake.abort();
    await waitConnections(fake, 3);
    assert.equal(asked, 1);
    assert.equal(fake.challenge(), fresh);
    fake.welcome(fake.last, { authmethod: 'ticket' });
    await waitFor('open', () => client.state === 'open', { timeoutMs: 1000, intervalMs: 1 });
    // The fresh token is spent too: a loss with nothing left is anonymous.
    fake.drop();
    await waitConnections(fake, 4);
    assert.equal(fake.last.options.authmethods, undefined);
  });

  // Without onTokenExpired a refused token leaves an anonymous session.
  test('a refused page token without onTokenExpired carries on anonymously', async () => {
    const fake = new FakeAutobahn();
    connect(fake, { token: token({ typ: 'ws', sub: '1' }) });
    fake.challenge();
    fake.abort();
    await waitConnections(fake, 2);
    assert.equal(fake.last.options.authmethods, undefined);
  });
});

describe('in a page (document stubbed)', () => {
  let saved;
  function stubDocument({ config, cookie = '' } = {}) {
    saved = Object.getOwnPropertyDescriptor(globalThis, 'document');
    const writes = [];
    let jar = cookie;
    globalThis.document = {
      get cookie() { return jar; },
      set cookie(v) { writes.push(v); jar = v.split(';')[0]; },
      getElementById: (id) => (id === 'telegraphy-config' && config !== undefined ? { textContent: config } : null),
    };
    return writes;
  }
  afterEach(() => {
    if (saved) Object.defineProperty(globalThis, 'document', saved);
    else delete globalThis.document;
    saved = undefined;
  });

  // The resume token is stored as a cookie: Path = the gateway's path,
  // SameSite=Lax, lifetime from resume_expires, Secure for wss.
  test('the resume token is kept in a SameSite=Lax cookie scoped to the gateway path', async () => {
    const writes = stubDocument();
    const fake = new FakeAutobahn();
    connect(fake, { url: 'wss://gw.example/live/ws', token: token({ sub: '5' }) });
    fake.challenge();
    fake.welcome(fake.last, { authmethod: 'ticket', authextra: { resume_token: 'r.t', resume_expires: Math.floor(Date.now() / 1000) + 100 } });
    assert.equal(writes.length, 1);
    assert.match(writes[0], new RegExp(`^${RESUME_COOKIE}=r\\.t; Path=/live/ws; Max-Age=(99|100); SameSite=Lax; Secure$`));
  });

  // A resume cookie of the same user is offered first on a new page; one
  // of another user is ignored.
  test('a resume cookie of the same user is offered before the page token', () => {
    const mine = token({ typ: 'resume', sub: '5' });
    stubDocument({ cookie: `other=1; ${RESUME_COOKIE}=${encodeURIComponent(mine)}` });
    const fake = new FakeAutobahn();
    connect(fake, { token: token({ typ: 'ws', sub: '5' }) });
    assert.equal(fake.challenge(), mine);
    const page = token({ typ: 'ws', sub: '6' });
    connect(fake, { token: page });
    assert.equal(fake.challenge(), page);
  });

  // fromPage() reads the JSON config the template tag renders.
  test('fromPage reads url, realm and token from #telegraphy-config', () => {
    stubDocument({ config: JSON.stringify({ url: 'ws://h:1/ws', realm: 'r1', token: token({ sub: '9' }) }) });
    const fake = new FakeAutobahn();
    const client = Telegraphy.fromPage({ autobahn: fake, onerror: () => {} });
    clients.push(client);
    assert.equal(fake.last.options.url, 'ws://h:1/ws');
    assert.equal(fake.last.options.realm, 'r1');
    assert.equal(fake.last.options.authid, '9');
  });

  // A config naming the token view makes fromPage() renew a refused token
  // from it (same-origin, uncached), unless the caller brings its own hook.
  test('fromPage renews tokens from token_url when the config names it', async () => {
    stubDocument({ config: JSON.stringify({ url: 'ws://h:1/ws', realm: 'r1', token: null, token_url: '/telegraphy/token/' }) });
    const calls = [];
    const saved = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      calls.push({ url, init });
      return { ok: true, status: 200, json: async () => ({ token: 'fresh.t' }) };
    };
    try {
      const client = Telegraphy.fromPage({ autobahn: new FakeAutobahn(), onerror: () => {} });
      clients.push(client);
      assert.equal(await client._onTokenExpired(), 'fresh.t');
      assert.deepEqual(calls.map((c) => [c.url, c.init.credentials, c.init.cache]), [['/telegraphy/token/', 'same-origin', 'no-store']]);
      const own = async () => 'mine';
      const other = Telegraphy.fromPage({ autobahn: new FakeAutobahn(), onerror: () => {}, onTokenExpired: own });
      clients.push(other);
      assert.equal(other._onTokenExpired, own);
    } finally {
      globalThis.fetch = saved;
    }
  });

  test('fromPage without the config element says so', () => {
    stubDocument();
    assert.throws(() => Telegraphy.fromPage({ autobahn: new FakeAutobahn() }), /telegraphy-config/);
  });
});
