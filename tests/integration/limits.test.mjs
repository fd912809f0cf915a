// Configurable limits (DESIGN §4 "Limits are configurable", §2.6 slow
// consumers, §2.1 event fields): each limit refuses cleanly what goes over
// it, names the limit, and leaves every other session and process working.
// One gateway, one edge per edge limit:
//   edge0 --session-queue 64, edge1 --max-sessions 3, edge2 --max-subscriptions 2,
//   ingest --max-event 32768.
// Every wait is a bounded wait on a condition.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, RawWamp, metricValue, probeWebSocket, waitFor } from './harness.mjs';
import { connectClient } from './clients.mjs';

const SESSION_QUEUE = 64;
const MAX_SESSIONS = 3;
const MAX_SUBSCRIPTIONS = 2;
const MAX_EVENT = 32768;

const SLOW = 'itest.limits.slow.tick';
const SESS = 'itest.limits.sessions.tick';
const SUB_A = 'itest.limits.subs.a';
const SUB_B = 'itest.limits.subs.b';
const SUB_C = 'itest.limits.subs.c';
const BIG = 'itest.limits.size.blob';
const FIELDS = 'itest.limits.fields.order';
const FIELD_LIST = ['alpha', 'beta'];

const EDGE_SLOW = 0;
const EDGE_SESSIONS = 1;
const EDGE_SUBS = 2;
const EDGE_ARGS = [
  ['--session-queue', String(SESSION_QUEUE)],
  ['--max-sessions', String(MAX_SESSIONS)],
  ['--max-subscriptions', String(MAX_SUBSCRIPTIONS)],
];

describe('limits', () => {
  const gw = new Gateway({
    name: 'limits',
    edges: 3,
    edgeArgs: (i) => EDGE_ARGS[i],
    ingestArgs: ['--max-event', String(MAX_EVENT)],
  });

  before(async () => {
    await gw.start();
    for (const t of [SLOW, SESS, SUB_A, SUB_B, SUB_C, BIG]) await gw.register(t);
    await gw.register(FIELDS, ['--fields', FIELD_LIST.join(',')]);
    await gw.waitEventTypes([SLOW, SESS, SUB_A, SUB_B, SUB_C, BIG, FIELDS]);
  });

  after(async () => {
    await gw.stop();
  });

  const sessionsOn = async (i) => metricValue(await gw.metrics(i), 'sessions');

  // A session that stops reading (its TCP socket paused, so the kernel
  // buffers fill and then its queue of --session-queue 64 frames) is closed
  // as a slow consumer: /metrics slow_consumer_closes rises by one and the
  // session count drops by one; the events it did get are a gap-free
  // prefix, and after resuming it sees its connection closed. A normal
  // session on the same edge and subscription receives every event, in
  // order, before and after. Events go in batches of half the queue, each
  // only once the normal session has received the previous ones, so a
  // reader that keeps up can never be over the limit.
  test('a session that stops reading is closed as a slow consumer; a normal one receives every event in order',
    { timeout: 120000 }, gw.wrap(async () => {
      await waitFor('edge0 to have no sessions', async () => (await sessionsOn(EDGE_SLOW)) === 0, { timeoutMs: 5000 });
      const m0 = await gw.metrics(EDGE_SLOW);
      const closes0 = metricValue(m0, 'slow_consumer_closes');
      assert.strictEqual(typeof closes0, 'number', '/metrics has slow_consumer_closes');

      const normal = await connectClient('raw-json', gw.edgeUrl(EDGE_SLOW), gw);
      const nSub = await normal.subscribe(SLOW);
      const stalled = await connectClient('raw-json', gw.edgeUrl(EDGE_SLOW), gw);
      const sSub = await stalled.subscribe(SLOW);
      assert.strictEqual(String(sSub.subId), String(nSub.subId), 'one shared subscription');
      await waitFor('edge0 to count 2 sessions', async () => (await sessionsOn(EDGE_SLOW)) === 2, { timeoutMs: 5000 });
      stalled.raw.pauseReading();

      const BATCH = SESSION_QUEUE / 2;
      const PAD = 16384; // big frames fill the kernel buffers in few events
      const MAX_EVENTS = 3200; // ~50 MB: far beyond any socket buffering here
      let sent = 0;
      let closedAt = -1;
      while (sent < MAX_EVENTS) {
        const r = await gw.publishBurst(SLOW, BATCH, { first: sent, padBytes: PAD });
        assert.strictEqual(r.accepted, BATCH, `burst at ${sent}: ${JSON.stringify(r.rejected.slice(0, 3))}`);
        sent += BATCH;
        await nSub.inbox.waitCount(sent, 15000, `the normal session to receive ${sent} events`);
        if (metricValue(await gw.metrics(EDGE_SLOW), 'slow_consumer_closes') > closes0) {
          closedAt = sent;
          break;
        }
      }
      assert.ok(closedAt > 0, `no slow-consumer close after ${sent} events of ${PAD} bytes`);

      await waitFor('edge0 sessions to drop to 1', async () => (await sessionsOn(EDGE_SLOW)) === 1, { timeoutMs: 5000 });
      const m1 = await gw.metrics(EDGE_SLOW);
      assert.strictEqual(metricValue(m1, 'slow_consumer_closes'), closes0 + 1, 'exactly one slow-consumer close');

      // The normal session carries on.
      for (let k = 0; k < 2; k++) {
        await gw.publishBurst(SLOW, BATCH, { first: sent, padBytes: 16 });
        sent += BATCH;
        await nSub.inbox.waitCount(sent, 15000, `the normal session to receive ${sent} events`);
      }
      const seqs = nSub.inbox.items.map((it) => it.kwargs?.seq);
      assert.deepStrictEqual(seqs, Array.from({ length: sent }, (_, i) => i), 'normal session: every event, in order');
      assert.ok(normal.alive, 'the normal session was closed');
      const pubIds = nSub.inbox.items.map((it) => BigInt(it.pubId));
      for (let k = 1; k < pubIds.length; k++) assert.ok(pubIds[k] > pubIds[k - 1], `publication ids not increasing at ${k}`);

      // The stalled session, once it reads again, finds itself closed.
      stalled.raw.resumeReading();
      await waitFor('the stalled session to see its connection closed', () => stalled.raw.closeInfo, { timeoutMs: 10000 });
      const got = sSub.inbox.items.map((it) => it.kwargs?.seq);
      assert.ok(got.length < closedAt, `the stalled session got ${got.length} of ${closedAt} events before its close`);
      assert.deepStrictEqual(got, Array.from({ length: got.length }, (_, i) => i), 'stalled session: a gap-free prefix');
    }));

  // Backpressure, not a close: one reader on edge0 (--session-queue 64)
  // and a burst of 1000 events of 4 KB, 64 in flight through the ingest's
  // acknowledged path, so the router hands the edge events far faster than
  // the client reads them. The edge must pace its router link to what the
  // WebSocket takes (services/edge/edge_link.c) instead of piling the
  // burst onto the session queue: every event arrives, in order, the
  // session stays open and slow_consumer_closes does not move.
  test('a client that reads keeps up with a burst of large events',
    { timeout: 180000 }, gw.wrap(async () => {
      const BURST = 'itest.limits.burst.blob';
      const COUNT = 1000;
      const PAD = 4096;
      await gw.register(BURST);
      await gw.waitEventTypes([BURST]);
      const closes0 = metricValue(await gw.metrics(EDGE_SLOW), 'slow_consumer_closes');
      assert.strictEqual(typeof closes0, 'number', '/metrics has slow_consumer_closes');

      const reader = await connectClient('raw-json', gw.edgeUrl(EDGE_SLOW), gw);
      const sub = await reader.subscribe(BURST);
      const r = await gw.publishBurst(BURST, COUNT, { padBytes: PAD, window: 64, timeoutMs: 90000 });
      assert.strictEqual(r.accepted, COUNT, `burst: ${JSON.stringify(r.rejected.slice(0, 3))}`);
      // Done when every event arrived, or as soon as the edge closed the reader.
      await waitFor(`the reader to receive ${COUNT} events`,
        () => sub.inbox.items.length >= COUNT || reader.raw.closeInfo, { timeoutMs: 90000 });
      const closed = reader.raw.closeInfo;
      assert.strictEqual(closed, null, `the reader was closed after ${sub.inbox.items.length} of ${COUNT} events: ` +
        `${closed?.code} ${closed?.reason}`);
      const seqs = sub.inbox.items.map((it) => it.kwargs?.seq);
      assert.deepStrictEqual(seqs, Array.from({ length: COUNT }, (_, i) => i), 'every event, in order');
      assert.ok(sub.inbox.items.every((it) => it.kwargs?.pad?.length === PAD), 'bodies intact');
      assert.ok(reader.alive, 'the reader was closed');
      assert.strictEqual(metricValue(await gw.metrics(EDGE_SLOW), 'slow_consumer_closes'), closes0,
        'no slow-consumer close');
    }));

  // --max-sessions 3: with 3 sessions open the 4th WebSocket is refused
  // cleanly (a close frame with a code and a reason, or an HTTP refusal)
  // and the 3 keep working; once one leaves, a new connection is accepted
  // and works.
  test('at --max-sessions the next connection is refused with a reason, and accepted again once one leaves',
    { timeout: 60000 }, gw.wrap(async () => {
      const url = gw.edgeUrl(EDGE_SESSIONS);
      await waitFor('edge1 to have no sessions', async () => (await sessionsOn(EDGE_SESSIONS)) === 0, { timeoutMs: 5000 });
      const clients = [];
      for (let i = 0; i < MAX_SESSIONS; i++) {
        const c = await connectClient(i === 0 ? 'autobahn-json' : 'raw-json', url, gw);
        clients.push({ c, s: await c.subscribe(SESS) });
      }

      const refused = await probeWebSocket(url, 'wamp.2.json', { holdMs: 2000 });
      if (refused.outcome === 'open') refused.raw.terminate();
      assert.ok(
        (refused.outcome === 'closed' && refused.code >= 1000 && refused.code !== 1005 && refused.code !== 1006 &&
          refused.reason.length > 0) ||
          (refused.outcome === 'refused' && refused.status >= 400),
        `the connection over --max-sessions: ${JSON.stringify({ ...refused, raw: undefined })}`,
      );
      // A WAMP client gets no session either.
      await assert.rejects(connectClient('autobahn-msgpack', url), (e) => {
        assert.doesNotMatch(e.message, /timed out/, 'AutobahnJS was left waiting instead of refused');
        return true;
      }, 'AutobahnJS opened a session over --max-sessions');

      await gw.publish(SESS, { n: 1 });
      for (const { s, c } of clients) await s.inbox.waitFor((it) => it.kwargs?.n === 1, 10000, `${c.kind}: event n=1`);

      await clients[2].c.close();
      gw.clients.delete(clients[2].c);
      await waitFor('edge1 sessions to drop to 2', async () => (await sessionsOn(EDGE_SESSIONS)) === 2, { timeoutMs: 5000 });

      const late = await connectClient('raw-msgpack', url, gw);
      const lSub = await late.subscribe(SESS);
      await gw.publish(SESS, { n: 2 });
      for (const { s, what } of [{ s: lSub, what: 'newcomer' }, ...clients.slice(0, 2).map(({ s, c }) => ({ s, what: c.kind }))]) {
        await s.inbox.waitFor((it) => it.kwargs?.n === 2, 10000, `${what}: event n=2`);
      }
      assert.ok(clients[0].c.alive && clients[1].c.alive, 'the sessions under the limit stayed open');
    }));

  // --max-subscriptions 2: the 3rd SUBSCRIBE of a session (raw WAMP and
  // AutobahnJS) gets ERROR telegraphy.error.too_many_subscriptions; the
  // session stays open, keeps receiving on its 2 subscriptions, answers
  // CALLs, and may subscribe again after an UNSUBSCRIBE.
  test('the subscription over --max-subscriptions gets too_many_subscriptions and the session keeps working',
    { timeout: 60000 }, gw.wrap(async () => {
      for (const kind of ['raw-json', 'autobahn-msgpack']) {
        const c = await connectClient(kind, gw.edgeUrl(EDGE_SUBS), gw);
        const a = await c.subscribe(SUB_A);
        const b = await c.subscribe(SUB_B);
        await assert.rejects(c.subscribe(SUB_C), (e) => {
          assert.strictEqual(e.error, 'telegraphy.error.too_many_subscriptions', `${kind}: ${e.message}`);
          return true;
        }, `${kind}: a 3rd subscription was accepted`);
        // Also a pattern subscription counts.
        await assert.rejects(c.subscribe('itest.limits.subs', 'prefix'),
          (e) => e.error === 'telegraphy.error.too_many_subscriptions', `${kind}: a 3rd (prefix) subscription was accepted`);

        const list = await c.call('telegraphy.events.list');
        assert.ok(Array.isArray(list?.[0]), `${kind}: telegraphy.events.list answered`);
        await gw.publish(SUB_A, { kind, n: 1 });
        await gw.publish(SUB_B, { kind, n: 2 });
        await a.inbox.waitFor((it) => it.kwargs?.kind === kind && it.kwargs?.n === 1, 10000, `${kind}: event on A`);
        await b.inbox.waitFor((it) => it.kwargs?.kind === kind && it.kwargs?.n === 2, 10000, `${kind}: event on B`);

        await c.unsubscribe(b);
        const cSub = await c.subscribe(SUB_C);
        await gw.publish(SUB_C, { kind, n: 3 });
        await cSub.inbox.waitFor((it) => it.kwargs?.kind === kind && it.kwargs?.n === 3, 10000, `${kind}: event on C`);
        assert.ok(c.alive, `${kind}: the session was closed`);
        await c.close();
        gw.clients.delete(c);
      }
    }));

  // An event body over the ingest's --max-event is refused by
  // `telegraphy-ctl publish` with exit 1 and a message naming the limit;
  // nothing is delivered: the subscriber's first event is the next,
  // accepted one.
  test('an event over --max-event is refused with exit 1 naming the limit, and nothing is delivered',
    { timeout: 30000 }, gw.wrap(async () => {
      const c = await connectClient('raw-json', gw.edgeUrl(EDGE_SUBS), gw);
      const s = await c.subscribe(BIG);
      const r = await gw.publishOnce(BIG, { marker: 'too-big', pad: 'x'.repeat(MAX_EVENT + 100) });
      assert.strictEqual(r.code, 1, `publish over --max-event: code=${r.code} stdout=${r.stdout} stderr=${r.stderr}`);
      assert.match(r.stderr, new RegExp(`\\b${MAX_EVENT}\\b`), `the message names the limit: ${r.stderr}`);
      // Just under the limit is accepted (the limit is the body size).
      const under = await gw.publishOnce(BIG, { marker: 'under', pad: 'x'.repeat(MAX_EVENT - 100) });
      assert.strictEqual(under.code, 0, `publish under --max-event: ${under.stderr}`);
      await gw.publish(BIG, { marker: 'small' });
      await s.inbox.waitCount(2, 10000, 'the accepted events');
      assert.deepStrictEqual(s.inbox.items.map((it) => it.kwargs?.marker), ['under', 'small'], 'delivered events');
    }));

  // A type registered with --fields alpha,beta accepts exactly those keys:
  // a missing key and an extra key are each refused by `telegraphy-ctl
  // publish` with exit 1 and a message naming the key; exactly alpha and
  // beta is delivered, and nothing else was.
  test('a type with --fields refuses a missing or an extra key naming it, and delivers exactly the fields',
    { timeout: 30000 }, gw.wrap(async () => {
      const c = await connectClient('autobahn-json', gw.edgeUrl(EDGE_SUBS), gw);
      const s = await c.subscribe(FIELDS);

      const missing = await gw.publishOnce(FIELDS, { alpha: 1 });
      assert.strictEqual(missing.code, 1, `missing key: code=${missing.code} stderr=${missing.stderr}`);
      assert.match(missing.stderr, /\bbeta\b/, `the message names the missing key: ${missing.stderr}`);

      const extra = await gw.publishOnce(FIELDS, { alpha: 1, beta: 2, gamma: 3 });
      assert.strictEqual(extra.code, 1, `extra key: code=${extra.code} stderr=${extra.stderr}`);
      assert.match(extra.stderr, /\bgamma\b/, `the message names the extra key: ${extra.stderr}`);

      const ok = await gw.publishOnce(FIELDS, { alpha: 1, beta: 'two' });
      assert.strictEqual(ok.code, 0, `exact keys: code=${ok.code} stderr=${ok.stderr}`);
      await s.inbox.waitCount(1, 10000, 'the accepted event');
      assert.deepStrictEqual(s.inbox.items.map((it) => it.kwargs), [{ alpha: 1, beta: 'two' }], 'delivered events');
      // Nothing refused arrives later either: a marker published after it
      // is the second and last event.
      await gw.publish(FIELDS, { alpha: 'end', beta: 'end' });
      await s.inbox.waitCount(2, 10000, 'the marker');
      assert.deepStrictEqual(s.inbox.items.map((it) => it.kwargs?.alpha), [1, 'end']);
    }));

  gw.stopTest(test);
});
