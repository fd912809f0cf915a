// The native multi-edge topology (DESIGN §2.1): one ingest, one router,
// three edges on free loopback ports, an nginx load balancer in front
// (tests/integration/nginx.mjs: round-robin, WebSocket upgrade, a refused
// connection retried on the next edge). The browsers are telegraphy.js
// clients (the file Django serves, with the npm autobahn, as in
// tests/js/client.test.mjs): they reconnect by themselves, through the
// balancer. One edge is killed with SIGKILL and restarted on its port;
// `telegraphy-ctl status` and `telegraphy-ctl monitor --json` watch it.
// The tests run in order and share the gateway and the clients.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, HEARTBEAT_MS, autobahn, freePorts, metricValue, waitFor } from './harness.mjs';
import { Nginx, requireNginx } from './nginx.mjs';
import { Telegraphy } from '../../django_telegraphy/static/telegraphy/telegraphy.js';

const TOPIC = 'itest.topology.tick';
const CLIENTS = 300;
const EDGES = 3;
const KILLED = 1; // the edge killed and restarted
const FIRST_EVENTS = 20; // before the kill
const NEXT_EVENTS = 10; // after the reconnect
// Reconnect quickly so the test takes seconds (telegraphy.js backoff, s).
const FAST = { initialDelay: 0.05, maxDelay: 0.5, factor: 2, jitter: true };

const range = (from, count) => Array.from({ length: count }, (_, i) => from + i);

describe('multi-edge topology behind nginx', () => {
  const gw = new Gateway({ name: 'topology', edges: EDGES });
  let nginx;
  let monitor;
  let monitorEndpoint;
  const clients = []; // {client, states, seqs}
  const sessionsBefore = []; // each edge's /metrics sessions before the kill
  let killedInstance;
  let killedAt;
  let monitorMark = 0;
  let restartedInstance;
  let goneWatch; // resolves ms from the kill to the status without the killed edge

  before(async () => {
    requireNginx();
    const [monitorPort] = await freePorts(1);
    monitorEndpoint = `tcp://127.0.0.1:${monitorPort}`;
    gw.routerArgs = ['--monitor', monitorEndpoint];
    await gw.start();
    await gw.register(TOPIC);
    await gw.waitEventTypes([TOPIC]);
    nginx = await new Nginx(gw.ports.edges).start();
    // The monitor child runs from now until the last test. It is known to
    // be subscribed once it printed a line: each `status` below makes the
    // router's control socket accept (and lose) a connection, an event.
    monitor = gw.spawnCtl(['monitor', '--json'], { TELEGRAPHY_MONITOR: monitorEndpoint });
    await waitFor('telegraphy-ctl monitor --json to print its first event', async () => {
      if (!monitor.running) {
        const e = new Error(`telegraphy-ctl monitor exited: ${JSON.stringify(monitor.exit)} stderr=${monitor.stderr}`);
        e.fatal = true;
        throw e;
      }
      await gw.status();
      return monitor.lines.length > 0;
    }, { timeoutMs: 15000, intervalMs: 100 });
  }, { timeout: 60000 });

  after(async () => {
    for (const c of clients) c.client.close();
    await monitor?.stop().catch(() => {});
    await nginx?.stop().catch(() => {});
    nginx?.cleanup();
    await gw.stop().catch(() => {});
  });

  const opens = () => clients.filter((c) => c.client.state === 'open').length;
  const sessionsPerEdge = async () => {
    const out = [];
    for (let i = 0; i < EDGES; i++) out.push(metricValue(await gw.metrics(i), 'sessions'));
    return out;
  };

  // 300 sessions opened through the balancer land on all three edges: each
  // edge's /metrics counts some sessions and together they count 300.
  test(`${CLIENTS} sessions through the balancer spread across all ${EDGES} edges`, { timeout: 60000 },
    gw.wrap(async () => {
      for (let i = 0; i < CLIENTS; i++) {
        const entry = { states: [], seqs: [] };
        entry.client = Telegraphy.connect({
          url: nginx.url,
          autobahn,
          reconnect: FAST,
          onstate: (s) => entry.states.push(s),
          onerror: () => {},
        });
        entry.subscribed = entry.client.subscribe(TOPIC, (data) => entry.seqs.push(data.seq));
        clients.push(entry);
      }
      await waitFor(`${CLIENTS} clients open`, () => opens() === CLIENTS, { timeoutMs: 45000, intervalMs: 100 })
        .catch((e) => {
          e.message += ` (${opens()} open)`;
          throw e;
        });
      await Promise.all(clients.map((c) => c.subscribed));
      let last;
      await waitFor(`the edges' sessions to add up to ${CLIENTS}`, async () => {
        last = await sessionsPerEdge();
        return last.reduce((a, b) => a + b, 0) === CLIENTS;
      }, { timeoutMs: 10000, intervalMs: 100 }).catch((e) => {
        e.message += ` (sessions per edge: ${last})`;
        throw e;
      });
      console.log(`sessions per edge through nginx: ${last.join(', ')}`);
      last.forEach((n, i) => assert.ok(n > 0, `edge${i} got no session: ${last}`));
      sessionsBefore.push(...last);
    }));

  // Every event published reaches every subscriber exactly once: each
  // client's handler sees seq 0..N-1 in order and its dedupe dropped nothing
  // (the gateway sent no duplicate).
  test('every event reaches every subscriber exactly once', { timeout: 60000 }, gw.wrap(async () => {
    const r = await gw.publishBurst(TOPIC, FIRST_EVENTS, { first: 0 });
    assert.equal(r.accepted, FIRST_EVENTS, JSON.stringify(r.rejected));
    const done = () => clients.filter((c) => c.seqs.length >= FIRST_EVENTS).length;
    await waitFor(`${CLIENTS} clients to receive ${FIRST_EVENTS} events`, () => done() === CLIENTS,
      { timeoutMs: 30000, intervalMs: 100 }).catch((e) => {
      e.message += ` (${done()} complete)`;
      throw e;
    });
    const expected = range(0, FIRST_EVENTS);
    clients.forEach((c, i) => {
      assert.deepEqual(c.seqs, expected, `client ${i}: events lost, duplicated or out of order`);
      const st = c.client.stats();
      assert.equal(st.received, FIRST_EVENTS, `client ${i}: the gateway delivered ${st.received} events`);
      assert.equal(st.duplicates, 0, `client ${i}: duplicates`);
    });
  }));

  // kill -9 of one edge: exactly its clients lose their session, reconnect
  // through the balancer (nginx skips the dead edge) to the two others, and
  // receive the events published next, exactly once and in order.
  test('the clients of a killed edge reconnect through the balancer to the others and get the next events',
    { timeout: 60000 }, gw.wrap(async () => {
      killedInstance = await gw.edges[KILLED].waitInstanceId();
      assert.ok((await gw.status()).some((p) => p.instance === killedInstance), `${killedInstance} not in status`);
      monitorMark = monitor.lines.length; // the monitor lines from here on follow the kill
      await gw.killEdge(KILLED);
      killedAt = Date.now();
      // Watched from now, for the status test below.
      goneWatch = (async () => {
        let seenAt;
        await waitFor(`status without the killed edge ${killedInstance}`, async () => {
          const asked = Date.now();
          const s = await gw.status();
          if (s && !s.some((p) => p.instance === killedInstance)) seenAt = asked;
          return seenAt !== undefined;
        }, { timeoutMs: 20000, intervalMs: 20 });
        return seenAt - killedAt;
      })();
      goneWatch.catch(() => {}); // awaited (and reported) by its own test

      const moved = () => clients.filter((c) => c.states.includes('reconnecting'));
      await waitFor(`the killed edge's ${sessionsBefore[KILLED]} clients to reconnect`,
        () => moved().length >= sessionsBefore[KILLED] && opens() === CLIENTS,
        { timeoutMs: 30000, intervalMs: 100 }).catch((e) => {
        e.message += ` (${moved().length} reconnecting seen, ${opens()} open)`;
        throw e;
      });
      assert.equal(moved().length, sessionsBefore[KILLED], 'clients that lost their session = the killed edge\'s');
      for (const c of moved()) assert.ok(c.client.stats().opens >= 2, 'a moved client opened a second session');

      let per;
      await waitFor(`the surviving edges to hold all ${CLIENTS} sessions`, async () => {
        per = [];
        for (let i = 0; i < EDGES; i++) per.push(i === KILLED ? 0 : metricValue(await gw.metrics(i), 'sessions'));
        return per.reduce((a, b) => a + b, 0) === CLIENTS;
      }, { timeoutMs: 10000, intervalMs: 100 }).catch((e) => {
        e.message += ` (sessions per edge: ${per})`;
        throw e;
      });
      console.log(`sessions per edge after the kill of edge${KILLED}: ${per.join(', ')}`);

      const r = await gw.publishBurst(TOPIC, NEXT_EVENTS, { first: FIRST_EVENTS });
      assert.equal(r.accepted, NEXT_EVENTS, JSON.stringify(r.rejected));
      const total = FIRST_EVENTS + NEXT_EVENTS;
      const done = () => clients.filter((c) => c.seqs.length >= total).length;
      await waitFor(`${CLIENTS} clients to receive the next ${NEXT_EVENTS} events`, () => done() === CLIENTS,
        { timeoutMs: 30000, intervalMs: 100 }).catch((e) => {
        e.message += ` (${done()} complete)`;
        throw e;
      });
      const expected = range(0, total);
      clients.forEach((c, i) => assert.deepEqual(c.seqs, expected, `client ${i}: events lost, duplicated or out of order`));
    }));

  // The clients of the edges that stayed up never noticed: one session
  // each, their states only connecting -> open.
  test('the clients of the surviving edges never disconnected', { timeout: 10000 }, gw.wrap(async () => {
    const stayed = clients.filter((c) => !c.states.includes('reconnecting'));
    const expected = sessionsBefore.reduce((a, b) => a + b, 0) - sessionsBefore[KILLED];
    assert.equal(stayed.length, expected, 'clients that kept their session = the surviving edges\'');
    for (const c of stayed) {
      assert.deepEqual(c.states, ['connecting', 'open']);
      assert.equal(c.client.stats().opens, 1);
    }
  }));

  // `telegraphy-ctl status` drops the killed edge within about 5 heartbeats
  // (the router forgets a peer after 3 silent intervals; the bound adds one
  // second for the ctl round trips under ASan), and lists it again, under
  // its new instance id, once it is restarted on the same port.
  test('status shows the killed edge gone within ~5 heartbeats, then back after a restart on its port',
    { timeout: 60000 }, gw.wrap(async () => {
      const goneMs = await goneWatch;
      console.log(`status without the killed edge ${goneMs} ms after the kill (heartbeat ${HEARTBEAT_MS} ms)`);
      assert.ok(goneMs <= 5 * HEARTBEAT_MS + 1000, `gone after ${goneMs} ms`);

      gw.restartEdge(KILLED);
      const instance = await gw.edges[KILLED].waitInstanceId();
      restartedInstance = instance;
      assert.notEqual(instance, killedInstance);
      await gw.waitEdgeHealthy(KILLED);
      let s;
      await waitFor(`status to list the restarted edge ${instance}`, async () => {
        s = await gw.status();
        // Listed with stats: its first heartbeat arrived (so the table shows them).
        return s && s.some((p) => p.role === 'edge' && p.instance === instance && p.stats.sessions !== undefined) &&
          s.filter((p) => p.role === 'edge').length === EDGES;
      }, { timeoutMs: 15000, intervalMs: 100 });
      assert.ok(!s.some((p) => p.instance === killedInstance), 'the dead instance is not listed again');
      const table = await gw.ctl(['status']);
      assert.equal(table.code, 0, table.stderr);
      console.log(`telegraphy-ctl status after the restart of edge${KILLED}:\n${table.stdout}`);
    }));

  // The monitor child printed the router-side disconnect of the killed
  // edge's connection (ZeroMQ socket monitor event on the router's socket).
  test('telegraphy-ctl monitor printed the router socket\'s disconnect of the killed edge', { timeout: 20000 },
    gw.wrap(async () => {
      const routerPort = `:${gw.ports.router}`;
      const isDisconnect = (e) => e.role === 'router' && e.event === 'disconnected' &&
        String(e.endpoint || '').endsWith(routerPort);
      const afterKill = () => monitor.json(monitor.lines.slice(monitorMark));
      await waitFor('a router "disconnected" event on the router endpoint', () => afterKill().some(isDisconnect),
        { timeoutMs: 10000, intervalMs: 100 }).catch((e) => {
        e.message += `\nmonitor printed ${monitor.lines.length} lines, last ones:\n${monitor.lines.slice(-20).join('\n')}` +
          `\nstderr: ${monitor.stderr}`;
        throw e;
      });
      // Only the router endpoint's events, from both sides (the control
      // socket and the ingest's ack socket add a few per ctl call).
      const events = afterKill().filter((e) => String(e.endpoint || '').endsWith(routerPort));
      const at = events.findIndex(isDisconnect);
      const show = events.slice(at, at + 5).map((e) => JSON.stringify(e));
      console.log(`telegraphy-ctl monitor --json around the kill:\n${show.join('\n')}`);
      // Then the restarted edge connected again: the router's socket
      // accepted it, and the edge's own "connected" (sent to the router over
      // its DEALER and republished) names its new instance.
      const later = events.slice(at);
      assert.ok(later.some((e) => e.role === 'router' && e.event === 'accepted'), 'no router "accepted" after the kill');
      assert.ok(later.some((e) => e.role === 'edge' && e.event === 'connected' && e.instance === restartedInstance),
        `no "connected" from the restarted edge ${restartedInstance}`);
    }));

  // nginx (one foreground process) exits on SIGTERM to its PID, and so
  // does the monitor child on SIGINT, once the clients are closed.
  test('nginx and the monitor child stop by PID', { timeout: 30000 }, async () => {
    await Promise.all(clients.map((c) => c.client.close()));
    const m = await monitor.stop();
    assert.ok(!monitor.killed, 'telegraphy-ctl monitor ignored SIGINT');
    assert.deepEqual(m, { code: 0, signal: null }, `telegraphy-ctl monitor on SIGINT; stderr: ${monitor.stderr}`);
    const exit = await nginx.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `nginx: ${nginx.log().slice(-2000)}`);
    nginx.cleanup();
  });

  gw.stopTest(test);
});
