// telegraphy.js's durable subscriptions against the real gateway with
// persistence (DESIGN §2.3, §2.6, §2.7; issue 11): router, ingest, edge and
// persist from TELEGRAPHY_BIN_DIR on a fresh database of
// TELEGRAPHY_TEST_DATABASE_URL's PostgreSQL (unset: the suite fails). The
// client under test is the very file the Django app serves, given the npm
// `autobahn` module. Publishers are `telegraphy-ctl publish` and the
// harness's burst publisher (the ingest's acknowledged path). Every wait is
// bounded and on a condition.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, Inbox, autobahn, metricValue, mintToken, newJti, tokenPayload, waitFor } from '../integration/harness.mjs';
import { Telegraphy, ACK_BATCH_MAX, ACK_FLUSH_MS } from '../../django_telegraphy/static/telegraphy/telegraphy.js';

const SECRET = 'js-durable-secret-0123456789abcdef-0123';
const GUARANTEED = 'jsdurable.order.shipped'; // --guaranteed
const RETAINED = 'jsdurable.price.tick'; // --ttl 120
const GAPPY = 'jsdurable.gap.tick'; // --ttl 120, published only by the gap test
const FAST = { initialDelay: 0.05, maxDelay: 0.5, factor: 2, jitter: true };

function wsToken(sub) {
  return mintToken(SECRET, { typ: 'ws', sub, exp: Math.floor(Date.now() / 1000) + 60, jti: newJti(), grp: [] });
}

// A client recorded by the gateway (closed by its cleanup); `token` null =
// anonymous.
function connect(gw, token, extra = {}) {
  const states = [];
  const errors = [];
  const client = Telegraphy.connect({
    url: gw.edgeUrl(0),
    autobahn,
    token: token || undefined,
    reconnect: FAST,
    onstate: (s) => states.push(s),
    onerror: (e, ctx) => errors.push(`${ctx.during}: ${e.message}`),
    ...extra,
  });
  client.states = states;
  client.errors = errors;
  gw.track(client);
  return client;
}

function waitState(client, state, timeoutMs = 20000) {
  return waitFor(`client state ${state} (states so far: ${client.states.join(' -> ')})`,
    () => client.state === state, { timeoutMs, intervalMs: 10 });
}

// subscribe() with an Inbox of {data, info} as the handler.
async function subscribeInbox(client, topic, options) {
  const inbox = new Inbox();
  const handle = await client.subscribe(topic, (data, info) => inbox.push({ data, info }), options);
  return { handle, inbox };
}

async function publishId(gw, topic, kwargs) {
  const r = await gw.publish(topic, kwargs, ['--json']);
  const id = Number(JSON.parse(r.stdout).pub_id);
  assert.ok(id > 0, `publish --json gives the pub_id: ${r.stdout}`);
  return id;
}

// The delivery rows persist still holds for a client (SQL).
function owedRows(gw, clientId) {
  return Number(gw.sql(
    `SELECT count(*) FROM telegraphy_deliveries d JOIN telegraphy_subscriptions s USING (sub_key)
     WHERE s.client_id = '${clientId}'`));
}

const pubs = (inbox) => inbox.items.map((e) => e.info.publication);
const increasing = (ids) => ids.every((id, i) => i === 0 || id > ids[i - 1]);

describe('telegraphy.js durable subscriptions against the gateway with persist', () => {
  const gw = new Gateway({ name: 'jsdurable', secret: SECRET, persist: true });

  before(async () => {
    await gw.start();
    await gw.register(GUARANTEED, ['--guaranteed']);
    await gw.register(RETAINED, ['--ttl', '120']);
    await gw.register(GAPPY, ['--ttl', '120']);
    await gw.waitEventTypes([GUARANTEED, RETAINED, GAPPY]);
    await gw.waitTicketAuth();
  }, { timeout: 90000 });

  after(async () => {
    await gw.stop().catch(() => {});
  });

  // The client is away (its edge killed with kill -9) while guaranteed
  // events are published; it reconnects by itself with its resume token,
  // re-subscribes persistently and gets exactly the missed events, in
  // publication order, marked replay, then live ones: every event reaches
  // the handler once.
  test('a persistent subscription gets what was published while the client was away, once, in order, then live',
    { timeout: 90000 }, gw.wrap(async () => {
      const client = connect(gw, wsToken('alice'));
      const { inbox } = await subscribeInbox(client, GUARANTEED, { persistent: true });
      await waitState(client, 'open');
      const clientId = client.session.authextra.client_id;
      assert.ok(clientId);
      await gw.publish(GUARANTEED, { n: 0 });
      await inbox.waitFor((e) => e.data.n === 0, 5000, 'the live event');
      await waitFor('the first ack to reach the store', () => owedRows(gw, clientId) === 0, { timeoutMs: 10000, intervalMs: 50 });

      await gw.killEdge(0);
      await waitState(client, 'reconnecting');
      const missed = [];
      for (let n = 1; n <= 5; n++) missed.push(await publishId(gw, GUARANTEED, { n }));
      assert.equal(owedRows(gw, clientId), 5, 'stored for the absent client');
      gw.restartEdge(0);
      await gw.waitEdgeHealthy(0);
      await waitState(client, 'open');
      assert.equal(client.session.authextra.client_id, clientId, 'the same client id after the reconnect');

      await inbox.waitCount(6, 20000, 'the five missed events');
      assert.deepEqual(inbox.items.map((e) => e.data.n), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(pubs(inbox).slice(1), missed, 'in publication order');
      assert.ok(inbox.items.slice(1).every((e) => e.info.replay && e.info.guaranteed), 'marked replay');
      await gw.publish(GUARANTEED, { n: 6 });
      await inbox.waitFor((e) => e.data.n === 6, 5000, 'the live event after the backlog');
      assert.equal(inbox.items.at(-1).info.replay, false);
      assert.equal(inbox.items.length, 7, 'nothing twice');
      await waitFor('every row acked', () => owedRows(gw, clientId) === 0, { timeoutMs: 10000, intervalMs: 50 });
      assert.deepEqual(client.errors, []);
    }));

  // Acks reach persist: the client's stored rows are gone, and a burst of
  // events was acked in batches — at most one CALL per ACK_FLUSH_MS of
  // delivery plus one per ACK_BATCH_MAX events, far fewer than events —
  // none of them ignored by the edge (the cumulative upto never ran ahead
  // of what the edge sent).
  test('the batched acks remove the stored rows', { timeout: 60000 }, gw.wrap(async () => {
    const client = connect(gw, wsToken('bob'));
    const times = [];
    const { inbox } = await subscribeInbox(client, GUARANTEED, { persistent: true });
    const handler = inbox.push.bind(inbox);
    inbox.push = (item) => { times.push(Date.now()); handler(item); };
    await waitState(client, 'open');
    const clientId = client.session.authextra.client_id;
    const ignoredBefore = metricValue(await gw.metrics(0), 'acks_ignored');
    const count = 3 * ACK_BATCH_MAX + 17;
    const burst = await gw.publishBurst(GUARANTEED, count, { window: 32 });
    assert.equal(burst.accepted, count, JSON.stringify(burst.rejected.slice(0, 3)));
    await inbox.waitCount(count, 20000);
    assert.deepEqual(pubs(inbox), burst.pubIds, 'in publication order');
    await waitFor('every row acked', () => owedRows(gw, clientId) === 0, { timeoutMs: 15000, intervalMs: 50 });
    await waitFor('the ack results', () => client.stats().acked === count, { timeoutMs: 5000, intervalMs: 10 });
    const { ackCalls } = client.stats();
    const elapsed = times.at(-1) - times[0];
    const bound = Math.floor(elapsed / ACK_FLUSH_MS) + Math.floor(count / ACK_BATCH_MAX) + 2;
    assert.ok(ackCalls >= 1 && ackCalls <= bound && ackCalls < count / 2,
      `${ackCalls} ack calls for ${count} events delivered over ${elapsed} ms (bound ${bound})`);
    assert.equal(metricValue(await gw.metrics(0), 'acks_ignored'), ignoredBefore, 'no ack ignored by the edge');
  }));

  // A publisher task publishes every few ms; a client subscribes with
  // `since` in the middle of the stream: every id after `since` reaches it
  // exactly once, in order (the replay, then the live tail), none missing.
  test('since handover during a stream of publishes: every id after since once, in order, no gap',
    { timeout: 90000 }, gw.wrap(async () => {
      const watcher = connect(gw, null);
      const seen = await subscribeInbox(watcher, RETAINED);
      const count = 400;
      const stream = gw.publishBurst(RETAINED, count, { window: 1, timeoutMs: 60000 });
      await seen.inbox.waitCount(80, 20000, 'the stream to be under way');
      const since = seen.inbox.items[40].info.publication;
      const client = connect(gw, null);
      const { inbox } = await subscribeInbox(client, RETAINED, { since });
      const { pubIds, accepted } = await stream;
      assert.equal(accepted, count);
      const expected = pubIds.filter((id) => id > since);
      await inbox.waitFor((e) => e.info.publication === pubIds.at(-1), 20000, 'the last id of the stream');
      const got = pubs(inbox);
      const missing = expected.filter((id) => !got.includes(id));
      const where = missing.map((id) => {
        const i = expected.indexOf(id);
        return `${id} (#${i} after since; neighbours got: ${JSON.stringify(inbox.items
          .filter((e) => Math.abs(e.info.publication - id) < 5000 * 1000 && Math.abs(expected.indexOf(e.info.publication) - i) <= 2)
          .map((e) => [e.info.publication, e.info.replay]))})`;
      });
      assert.equal(got.length, expected.length,
        `${got.length} received, ${expected.length} expected; missing ${where.join(', ')}; since ${since}`);
      assert.deepEqual(got, expected);
      const flags = inbox.items.map((e) => e.info.replay);
      const firstLive = flags.indexOf(false);
      assert.ok(firstLive > 0, 'the subscription began with a replay');
      assert.ok(flags.slice(firstLive).every((r) => !r), 'replay first, then live only');
      assert.ok(firstLive < got.length, 'and went live during the stream');
      assert.equal(client.stats().duplicates, 0);
    }));

  // `since` below what is held: the gateway answers gap {oldest}; ongap
  // hears it, the client subscribes again from oldest - 1, gets everything
  // from the oldest held on (replayed), then live events.
  test('a gap calls ongap with oldest, and the client re-subscribes and continues', { timeout: 60000 }, gw.wrap(async () => {
    const held = [];
    for (let n = 1; n <= 3; n++) held.push(await publishId(gw, GAPPY, { n }));
    const client = connect(gw, null);
    const gaps = [];
    const { handle, inbox } = await subscribeInbox(client, GAPPY, { since: 1, ongap: (info) => gaps.push(info) });
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].oldest, held[0]);
    assert.equal(gaps[0].subscription, handle);
    await inbox.waitCount(3, 10000, 'the events from oldest on');
    assert.deepEqual(pubs(inbox), held);
    assert.ok(inbox.items.every((e) => e.info.replay));
    await gw.publish(GAPPY, { n: 4 });
    await inbox.waitFor((e) => e.data.n === 4, 5000, 'the live event');
    assert.equal(inbox.items.at(-1).info.replay, false);
    assert.equal(inbox.items.length, 4);
    assert.equal(handle.gaps, 1);
  }));

  // Without an identity (Node: no token, no Origin, so no cookie identity)
  // a persistent subscription is refused with identity_required.
  test('a persistent subscription without an identity rejects with identity_required', { timeout: 30000 }, gw.wrap(async () => {
    const client = connect(gw, null);
    await assert.rejects(client.subscribe(GUARANTEED, () => {}, { persistent: true }),
      (e) => e.uri === 'telegraphy.error.identity_required');
    assert.equal(client.state, 'open');
  }));

  // A `since` subscription re-subscribes after a reconnect from the last
  // publication it delivered: what was published while away is replayed,
  // what it had already is not sent again.
  test('a since subscription resumes after its last publication across a reconnect', { timeout: 90000 }, gw.wrap(async () => {
    const first = await publishId(gw, RETAINED, { n: 'first' });
    const client = connect(gw, null);
    const { inbox } = await subscribeInbox(client, RETAINED, { since: first - 1 });
    await inbox.waitFor((e) => e.info.publication === first, 10000, 'the first event');
    const seen = await publishId(gw, RETAINED, { n: 'seen' });
    await inbox.waitFor((e) => e.info.publication === seen, 5000, 'the second event');
    await gw.killEdge(0);
    await waitState(client, 'reconnecting');
    const missed = [await publishId(gw, RETAINED, { n: 'missed-1' }), await publishId(gw, RETAINED, { n: 'missed-2' })];
    gw.restartEdge(0);
    await gw.waitEdgeHealthy(0);
    await waitState(client, 'open');
    await inbox.waitFor((e) => e.info.publication === missed[1], 15000, 'the missed events');
    assert.deepEqual(pubs(inbox), [first, seen, ...missed]);
    assert.equal(client.stats().duplicates, 0, 'nothing before the last publication was sent again');
  }));

  // A plain (not persistent) subscription receives guaranteed events live;
  // nothing is stored for it, so nothing is acked.
  test('guaranteed events on a plain subscription are delivered and not acked', { timeout: 30000 }, gw.wrap(async () => {
    const client = connect(gw, null);
    const { inbox } = await subscribeInbox(client, GUARANTEED);
    await gw.publish(GUARANTEED, { n: 'plain' });
    const e = await inbox.waitFor((x) => x.data.n === 'plain', 5000, 'the guaranteed event');
    assert.equal(e.info.guaranteed, true);
    assert.equal(e.info.replay, false);
    await gw.publish(GUARANTEED, { n: 'plain-2' });
    await inbox.waitFor((x) => x.data.n === 'plain-2', 5000, 'the second one');
    await client.close();
    assert.equal(client.stats().ackCalls, 0);
  }));

  gw.stopTest(test);
});

describe('telegraphy.js: a persistent subscription over its backlog bound', () => {
  const BOUND = 5;
  const gw = new Gateway({ name: 'jsbacklog', secret: SECRET, persist: true, persistArgs: ['--backlog-max', String(BOUND)] });

  before(async () => {
    await gw.start();
    await gw.register(GUARANTEED, ['--guaranteed']);
    await gw.waitEventTypes([GUARANTEED]);
    await gw.waitTicketAuth();
  }, { timeout: 90000 });

  after(async () => {
    await gw.stop().catch(() => {});
  });

  // More events than the backlog bound are published while the client is
  // away: its next subscribe is a gap whose oldest is the oldest kept;
  // ongap fires, the client resumes from oldest - 1, gets the BOUND kept
  // events in order, then live ones; a later reconnect resumes after what
  // it acked (no second gap, nothing again).
  test('an overflowed backlog is a gap: ongap, then the kept events in order, then live, and no gap after',
    { timeout: 120000 }, gw.wrap(async () => {
      const first = connect(gw, wsToken('carol'));
      await first.subscribe(GUARANTEED, () => {}, { persistent: true });
      await waitState(first, 'open');
      const clientId = first.session.authextra.client_id;
      const resume = first.session.authextra.resume_token;
      assert.equal(tokenPayload(resume).cid, clientId);
      await first.close();

      const ids = [];
      for (let n = 1; n <= BOUND + 4; n++) ids.push(await publishId(gw, GUARANTEED, { n }));
      const kept = ids.slice(-BOUND);
      await waitFor('the backlog trimmed to its bound', () => owedRows(gw, clientId) === BOUND, { timeoutMs: 10000, intervalMs: 50 });

      // The same browser/user again: the resume token as its ticket.
      const client = connect(gw, resume);
      const gaps = [];
      const { handle, inbox } = await subscribeInbox(client, GUARANTEED, { persistent: true, ongap: (i) => gaps.push(i.oldest) });
      assert.equal(client.session.authextra.client_id, clientId);
      assert.deepEqual(gaps, [kept[0]], 'ongap with the oldest kept');
      await inbox.waitCount(BOUND, 15000, 'the kept events');
      assert.deepEqual(pubs(inbox), kept);
      assert.ok(inbox.items.every((e) => e.info.replay));
      const live = await publishId(gw, GUARANTEED, { n: 'live' });
      await inbox.waitFor((e) => e.info.publication === live, 5000, 'the live event');
      await waitFor('every row acked', () => owedRows(gw, clientId) === 0, { timeoutMs: 10000, intervalMs: 50 });
      await waitFor('the acks confirmed', () => client.stats().acked === BOUND + 1, { timeoutMs: 5000, intervalMs: 10 });

      await gw.killEdge(0);
      await waitState(client, 'reconnecting');
      const missed = await publishId(gw, GUARANTEED, { n: 'missed' });
      gw.restartEdge(0);
      await gw.waitEdgeHealthy(0);
      await waitState(client, 'open');
      await inbox.waitFor((e) => e.info.publication === missed, 15000, 'the event missed during the restart');
      assert.deepEqual(pubs(inbox), [...kept, live, missed]);
      assert.equal(handle.gaps, 1, 'no second gap');
      assert.equal(client.stats().duplicates, 0);
      assert.ok(handle.active);
      assert.deepEqual(client.errors, []);
    }));

  gw.stopTest(test);
});
