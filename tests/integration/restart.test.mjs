// Peer restarts (house rule: "every process survives every peer restart";
// DESIGN §1 state ownership, common brief "Internal topology"): the ingest,
// an edge, and the router with the ingest are killed with SIGKILL (as a crash
// would) and restarted on the same ports; the survivors carry on and the
// restarted processes rejoin without help from the test (no REGISTER is
// re-sent unless the registry was lost with every process that held it).
// Also: SIGTERM on an edge closes its AutobahnJS sessions with 1001 at once.
// Every wait is a bounded wait on a condition.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, HEARTBEAT_MS, waitFor } from './harness.mjs';
import { connectClient } from './clients.mjs';

// Publishes numbered probes until one reaches every inbox in `subs` (a
// publish may be refused, or accepted before a resync finished); bounded.
async function probeUntilEveryoneGets(gw, topic, subs, { timeoutMs = 20000, tag = 'probe' } = {}) {
  let probe = 0;
  const everyoneGot = (p) => subs.every(({ s }) => s.inbox.items.some((it) => it.kwargs?.[tag] === p));
  await waitFor(`a ${tag} event on ${topic} to reach every subscription`, async () => {
    const p = ++probe;
    const r = await gw.publishOnce(topic, { [tag]: p });
    if (r.code !== 0) return false;
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      if (everyoneGot(p)) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  }, { timeoutMs, intervalMs: 100 });
}

// `status --json`'s router entry and edges (by instance id).
async function routerView(gw) {
  const st = await gw.status();
  if (!st) return null;
  return {
    router: st.find((p) => p.role === 'router'),
    edges: st.filter((p) => p.role === 'edge').map((p) => p.instance),
    ingests: st.filter((p) => p.role === 'ingest'),
    all: st,
  };
}

// Waits until every inbox has `n` events with kwargs.phase === phase and
// checks their `i` values are 0..n-1 in order.
async function expectPhase(subs, phase, n, timeoutMs = 10000) {
  for (const { s, what } of subs) {
    const got = () => s.inbox.items.filter((it) => it.kwargs?.phase === phase);
    await s.inbox.waitFor(() => got().length >= n, timeoutMs, `${what}: ${n} "${phase}" events`);
    assert.deepStrictEqual(got().map((it) => Number(it.kwargs.i)), Array.from({ length: n }, (_, i) => i),
      `${what}: "${phase}" events lost, duplicated or out of order`);
  }
}

describe('ingest restart', () => {
  const TOPIC = 'itest.restart.ingest.tick';
  const gw = new Gateway({ name: 'restart-ingest', edges: 1 });

  before(() => gw.startWithTypes([TOPIC]));

  after(async () => {
    await gw.stop();
  });

  // kill -9 of the ingest, restart on the same ports: the new ingest learns
  // the registry from the router's WELCOME + REGISTERs (the test re-sends
  // no REGISTER), so once the router lists it with its event types, the
  // first `telegraphy-ctl publish` of the type registered before the crash
  // is accepted and delivered, in order, to sessions connected all along.
  test('after kill -9 and restart of the ingest, a previously registered type is published and delivered',
    { timeout: 60000 }, gw.wrap(async () => {
      const clients = [
        await connectClient('autobahn-json', gw.edgeUrl(0), gw),
        await connectClient('autobahn-msgpack', gw.edgeUrl(0), gw),
        await connectClient('raw-json', gw.edgeUrl(0), gw),
      ];
      const sessionIds = clients.map((c) => String(c.sessionId));
      const subs = [];
      for (const c of clients) subs.push({ c, s: await c.subscribe(TOPIC), what: c.kind });
      await gw.publish(TOPIC, { phase: 'before', i: 0 });
      await expectPhase(subs, 'before', 1);

      const oldInstance = await gw.ingest.waitInstanceId();
      await gw.killIngest();
      gw.restartIngest();
      const newInstance = await gw.ingest.waitInstanceId();
      assert.notStrictEqual(newInstance, oldInstance, 'the restarted ingest has a new instance id');

      // The new ingest's heartbeat stats say it knows the type: it learnt it
      // from the router (nobody else told it).
      await waitFor('the router to list the new ingest with event_types >= 1', async () => {
        const v = await routerView(gw);
        const ingest = v?.ingests.find((p) => p.instance === newInstance);
        return ingest && ingest.stats.event_types >= 1;
      }, { timeoutMs: 10000, intervalMs: 50 });

      // First try, no retry: accepted.
      const r = await gw.publishOnce(TOPIC, { phase: 'after', i: 0 });
      assert.strictEqual(r.code, 0, `publish after the ingest restart: code=${r.code} stderr=${r.stderr}`);
      for (let i = 1; i < 5; i++) await gw.publish(TOPIC, { phase: 'after', i });
      await expectPhase(subs, 'after', 5);

      clients.forEach((c, i) => {
        assert.ok(c.alive, `${c.kind} session was closed`);
        assert.strictEqual(String(c.sessionId), sessionIds[i], `${c.kind} got a new session`);
      });
    }));

  gw.stopTest(test);
});

describe('edge crash and restart', () => {
  const SHARED = 'itest.restart.edge.shared';
  const ONLY1 = 'itest.restart.edge.only1';
  const gw = new Gateway({ name: 'restart-edge', edges: 2 });

  before(() => gw.startWithTypes([SHARED, ONLY1]));

  after(async () => {
    await gw.stop();
  });

  // kill -9 of one of two edges: the router forgets it after 3 heartbeat
  // intervals of silence (checked once per interval, so within 5 intervals
  // of the kill), dropping the subscription only that edge held, while the
  // other edge's sessions receive every event, in order, throughout; the
  // edge restarted on the same port is listed again (new instance id) and a
  // new client on it subscribes and receives.
  test('a killed edge is forgotten within a few heartbeats, the other keeps delivering, the restarted one serves',
    { timeout: 60000 }, gw.wrap(async () => {
      const survivor = await connectClient('autobahn-json', gw.edgeUrl(0), gw);
      const survivorId = String(survivor.sessionId);
      const sSub = await survivor.subscribe(SHARED);
      const victim = await connectClient('raw-json', gw.edgeUrl(1), gw);
      await victim.subscribe(SHARED);
      await victim.subscribe(ONLY1);

      const id0 = await gw.edges[0].waitInstanceId();
      const id1 = await gw.edges[1].waitInstanceId();
      // Two distinct keys at the router: SHARED (both edges), ONLY1 (edge1).
      await waitFor('the router to hold 2 subscriptions and list both edges', async () => {
        const v = await routerView(gw);
        return v && v.router?.stats.subscriptions === 2 && v.edges.includes(id0) && v.edges.includes(id1);
      }, { timeoutMs: 5000, intervalMs: 50 });

      await gw.killEdge(1);
      const killedAt = Date.now();
      // Published while the router still believes in edge1.
      for (let i = 0; i < 3; i++) await gw.publish(SHARED, { phase: 'crash', i });

      let view;
      let forgottenAfter;
      await waitFor('the router to forget the killed edge', async () => {
        view = await routerView(gw);
        forgottenAfter = Date.now() - killedAt;
        return view && !view.edges.includes(id1);
      }, { timeoutMs: 10 * HEARTBEAT_MS + 3000, intervalMs: 10 });
      assert.ok(forgottenAfter <= 5 * HEARTBEAT_MS + 500,
        `the router forgot the edge ${forgottenAfter} ms after the kill (heartbeat ${HEARTBEAT_MS} ms)`);
      assert.deepStrictEqual(view.edges, [id0], 'the surviving edge is still listed, alone');
      assert.strictEqual(view.router.stats.edges, 1, `router stats edges: ${JSON.stringify(view.router.stats)}`);
      assert.strictEqual(view.router.stats.subscriptions, 1,
        `router stats subscriptions (only SHARED is left): ${JSON.stringify(view.router.stats)}`);

      // Published after the router forgot it.
      for (let i = 3; i < 6; i++) await gw.publish(SHARED, { phase: 'crash', i });
      await expectPhase([{ s: sSub, what: 'survivor on edge0' }], 'crash', 6);

      gw.restartEdge(1);
      await gw.waitEdgeHealthy(1);
      const newId1 = await gw.edges[1].waitInstanceId();
      assert.notStrictEqual(newId1, id1, 'the restarted edge has a new instance id');
      await waitFor('the router to list the restarted edge', async () => {
        const v = await routerView(gw);
        return v && v.edges.includes(newId1) && v.edges.includes(id0) && v.edges.length === 2;
      }, { timeoutMs: 5000, intervalMs: 50 });

      const newcomer = await connectClient('autobahn-msgpack', gw.edgeUrl(1), gw);
      const nShared = await newcomer.subscribe(SHARED);
      const nOnly = await newcomer.subscribe(ONLY1);
      // SUBSCRIBED means live: no probing needed.
      for (let i = 0; i < 3; i++) {
        await gw.publish(SHARED, { phase: 'back', i });
        await gw.publish(ONLY1, { phase: 'back', i });
      }
      await expectPhase([
        { s: nShared, what: 'newcomer on restarted edge1 (shared)' },
        { s: nOnly, what: 'newcomer on restarted edge1 (only1)' },
        { s: sSub, what: 'survivor on edge0' },
      ], 'back', 3);
      const v = await routerView(gw);
      assert.strictEqual(v.router.stats.subscriptions, 2, `router stats subscriptions: ${JSON.stringify(v.router.stats)}`);
      assert.ok(survivor.alive, 'the survivor on edge0 was closed');
      assert.strictEqual(String(survivor.sessionId), survivorId, 'the survivor got a new session');
    }));

  gw.stopTest(test);
});

describe('router and ingest crash and restart', () => {
  const TOPIC = 'itest.restart.both.tick';
  const gw = new Gateway({ name: 'restart-both', edges: 2 });

  before(() => gw.startWithTypes([TOPIC]));

  after(async () => {
    await gw.stop();
  });

  // kill -9 of the router and the ingest together: the registry is lost
  // with both, the edges keep their sessions and subscriptions. Restarted on
  // the same ports: the edges resync (their exact subscription is refused
  // as unknown until the type exists again), the type is registered again,
  // and the same sessions (never closed, same ids) receive new events in
  // order on both edges, without reconnecting.
  test('after kill -9 of router and ingest and a restart, the same sessions receive once the type is re-registered',
    { timeout: 90000 }, gw.wrap(async () => {
      const clients = [
        await connectClient('autobahn-json', gw.edgeUrl(0), gw),
        await connectClient('raw-msgpack', gw.edgeUrl(0), gw),
        await connectClient('autobahn-msgpack', gw.edgeUrl(1), gw),
        await connectClient('raw-json', gw.edgeUrl(1), gw),
      ];
      const sessionIds = clients.map((c) => String(c.sessionId));
      const subs = [];
      for (const c of clients) subs.push({ c, s: await c.subscribe(TOPIC), what: c.kind });
      await gw.publish(TOPIC, { phase: 'before', i: 0 });
      await expectPhase(subs, 'before', 1);

      const oldIngest = await gw.ingest.waitInstanceId();
      await Promise.all([gw.killRouter(), gw.killIngest()]);
      gw.restartRouter();
      gw.restartIngest();
      const newIngest = await gw.ingest.waitInstanceId();
      assert.notStrictEqual(newIngest, oldIngest);

      await waitFor('the restarted router to list the new ingest and both edges', async () => {
        const v = await routerView(gw);
        return v && v.edges.length === 2 && v.ingests.some((p) => p.instance === newIngest);
      }, { timeoutMs: 15000, intervalMs: 100 });
      const v = await routerView(gw);
      assert.strictEqual(v.router.stats.event_types, 0, 'the restarted router starts with an empty registry');

      await gw.register(TOPIC);
      await probeUntilEveryoneGets(gw, TOPIC, subs);
      for (let i = 0; i < 5; i++) await gw.publish(TOPIC, { phase: 'after', i });
      await expectPhase(subs, 'after', 5);

      clients.forEach((c, i) => {
        assert.ok(c.alive, `${c.kind} session was closed`);
        assert.strictEqual(String(c.sessionId), sessionIds[i], `${c.kind} got a new session`);
      });
    }));

  gw.stopTest(test);
});

describe('edge SIGTERM', () => {
  const TOPIC = 'itest.restart.sigterm.tick';
  const gw = new Gateway({ name: 'restart-sigterm', edges: 1 });

  before(() => gw.startWithTypes([TOPIC]));

  after(async () => {
    await gw.stop();
  });

  // SIGTERM to an edge with AutobahnJS sessions (json and msgpack) open and
  // subscribed: every client sees the WebSocket close with 1001 (going
  // away) within 2 s of the signal, and the edge exits 0 with no sanitizer
  // report (gw.wrap fails the test on an unclean exit or a report).
  test('SIGTERM closes AutobahnJS sessions with 1001 within 2 s and the edge exits 0', { timeout: 30000 },
    gw.wrap(async () => {
      const clients = [];
      for (const kind of ['autobahn-json', 'autobahn-msgpack', 'autobahn-json']) {
        const c = await connectClient(kind, gw.edgeUrl(0), gw);
        const s = await c.subscribe(TOPIC);
        clients.push({ c, s });
      }
      await gw.publish(TOPIC, { phase: 'before', i: 0 });
      await expectPhase(clients.map(({ s, c }) => ({ s, what: c.kind })), 'before', 1);

      const edge = gw.edges[0];
      const signalledAt = Date.now();
      const stopped = edge.stop(); // SIGTERM; SIGKILL (a recorded problem) after 15 s
      const closes = await Promise.all(clients.map(({ c }) =>
        waitFor(`${c.kind} to see the WebSocket close`, () => c.handle.transportCloses[0], { timeoutMs: 5000, intervalMs: 10 })));
      await stopped;

      closes.forEach((close, i) => {
        const kind = clients[i].c.kind;
        assert.strictEqual(close.code, 1001, `${kind}: close code ${close.code} reason "${close.reason}"`);
        assert.ok(close.at - signalledAt < 2000, `${kind}: closed ${close.at - signalledAt} ms after SIGTERM`);
        assert.strictEqual(clients[i].c.handle.closes.length, 1, `${kind}: Connection.onclose fired once`);
      });
      assert.deepStrictEqual(edge.exit, { code: 0, signal: null }, `edge exit after SIGTERM: ${JSON.stringify(edge.exit)}`);
      edge.checkSanitizers();
      assert.deepStrictEqual(edge.problems, [], 'edge problems');
    }));

  gw.stopTest(test);
});
