// Operations surface: /healthz and /metrics on the edge port (DESIGN §2.2),
// `telegraphy-ctl status --json`, and an idle gateway that costs ~0 CPU.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, httpGet, parsePrometheus, metricValue, statName, cpuSeconds, waitFor, delay } from './harness.mjs';
import { connectClient } from './clients.mjs';

const TOPIC = 'itest.ops.tick';
const SHARED_STATS = ['events_in', 'events_out', 'drops', 'bad_input', 'queue_depth'];
const RATE_STATS = ['events_in_per_s', 'events_out_per_s'];
const EDGE_STATS = ['sessions', 'subscriptions', 'session_subscriptions', 'slow_consumer_closes', 'bytes_out'];

describe('operations', () => {
  const gw = new Gateway({ name: 'ops', edges: 1 });

  before(() => gw.startWithTypes([TOPIC]));

  after(async () => {
    await gw.stop();
  });

  // GET /healthz answers 200 on the WebSocket port.
  test('GET /healthz answers 200', { timeout: 10000 }, gw.wrap(async () => {
    const r = await httpGet(`${gw.httpBase(0)}/healthz`);
    assert.strictEqual(r.status, 200, r.body);
  }));

  // GET /metrics is Prometheus text: every line a comment or a sample, with
  // the shared stat names and the edge's own.
  test('GET /metrics is Prometheus text with the shared and edge stat names', { timeout: 10000 },
    gw.wrap(async () => {
      const r = await httpGet(`${gw.httpBase(0)}/metrics`);
      assert.strictEqual(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/plain/);
      const samples = parsePrometheus(r.body); // throws on a malformed line
      const names = new Set(samples.map((s) => statName(s.name)));
      for (const stat of [...SHARED_STATS, ...EDGE_STATS]) {
        assert.ok(names.has(stat), `/metrics lacks ${stat}; has: ${[...names].join(', ')}`);
      }
      // TYPE lines name metrics that appear as samples, with a known type.
      for (const line of r.body.split('\n').filter((l) => l.startsWith('# TYPE '))) {
        const [, , name, type] = line.split(/\s+/);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
        assert.ok(samples.some((s) => s.name === name || s.name.startsWith(`${name}_`)), `TYPE without samples: ${line}`);
      }
    }));

  // The shared stat names include the rates over the last heartbeat
  // interval (common brief: "Stat names (HEARTBEAT stats, STATUS, /metrics)
  // shared by every process"), so /metrics carries them too.
  test('GET /metrics carries the rate gauges events_in_per_s and events_out_per_s', { timeout: 10000 },
    gw.wrap(async () => {
      const names = new Set((await gw.metrics(0)).map((s) => statName(s.name)));
      for (const stat of RATE_STATS) assert.ok(names.has(stat), `/metrics lacks ${stat}; has: ${[...names].join(', ')}`);
    }));

  // The gauges and counters on /metrics follow what happens: sessions and
  // subscriptions count live ones, events_out and bytes_out rise with
  // deliveries, and sessions falls back when the clients leave.
  test('/metrics follows sessions, subscriptions and deliveries', { timeout: 30000 }, gw.wrap(async () => {
    const m0 = await gw.metrics(0);
    const sessions0 = metricValue(m0, 'sessions');
    const out0 = metricValue(m0, 'events_out');
    const bytes0 = metricValue(m0, 'bytes_out');
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await connectClient('raw-json', gw.edgeUrl(0), gw));
    const subs = [];
    for (const c of clients) subs.push(await c.subscribe(TOPIC));
    await waitFor('sessions to count 3 more', async () => metricValue(await gw.metrics(0), 'sessions') >= sessions0 + 3,
      { timeoutMs: 3000 });
    const m1 = await gw.metrics(0);
    assert.ok(metricValue(m1, 'session_subscriptions') >= 3, 'session_subscriptions counts the 3 subscriptions');
    assert.ok(metricValue(m1, 'subscriptions') >= 1, 'subscriptions counts the router subscription');
    await gw.publish(TOPIC, { n: 1 });
    for (const s of subs) await s.inbox.waitCount(1, 10000, 'event');
    await waitFor('events_out and bytes_out to rise', async () => {
      const m = await gw.metrics(0);
      return metricValue(m, 'events_out') >= out0 + 3 && metricValue(m, 'bytes_out') > bytes0;
    }, { timeoutMs: 3000 });
    for (const c of clients) await c.close();
    await waitFor('sessions to fall back', async () => metricValue(await gw.metrics(0), 'sessions') <= sessions0,
      { timeoutMs: 5000 });
  }));

  // `telegraphy-ctl status --json` lists every process (router, ingest,
  // edge) with uptime and the shared stats; exit code 0.
  test('telegraphy-ctl status --json lists router, ingest and edge with their stats', { timeout: 20000 },
    gw.wrap(async () => {
      const r = await gw.ctl(['status', '--json']);
      assert.strictEqual(r.code, 0, r.stderr);
      // Stats arrive with heartbeats: give every process a few intervals.
      let status;
      await waitFor('every process to report its stats', async () => {
        status = await gw.status();
        return ['router', 'ingest', 'edge'].every((role) => status?.some((p) => p.role === role && 'events_in' in p.stats));
      }, { timeoutMs: 3000, intervalMs: 100 }).catch(() => {});
      assert.ok(status, 'status --json');
      for (const role of ['router', 'ingest', 'edge']) {
        const p = status.find((x) => x.role === role);
        assert.ok(p, `status lists no ${role}: ${JSON.stringify(status.map((x) => x.raw))}`);
        assert.ok(Number.isInteger(p.raw.uptime_ms ?? p.raw.uptime), `${role} has an uptime: ${JSON.stringify(p.raw)}`);
        for (const stat of [...SHARED_STATS, ...RATE_STATS]) {
          assert.ok(stat in p.stats, `${role} lacks ${stat}: ${JSON.stringify(p.raw)}`);
        }
      }
      const edge = status.find((x) => x.role === 'edge');
      for (const stat of EDGE_STATS) assert.ok(stat in edge.stats, `edge lacks ${stat}: ${JSON.stringify(edge.raw)}`);
      const router = status.find((x) => x.role === 'router');
      for (const stat of ['subscriptions', 'edges', 'ingests', 'event_types']) {
        assert.ok(stat in router.stats, `router lacks ${stat}: ${JSON.stringify(router.raw)}`);
      }
      const ingest = status.find((x) => x.role === 'ingest');
      for (const stat of ['rejected', 'event_types']) {
        assert.ok(stat in ingest.stats, `ingest lacks ${stat}: ${JSON.stringify(ingest.raw)}`);
      }
    }));

  // An idle gateway (no clients, heartbeats every 200 ms) uses < 5% of one
  // core per process, measured from /proc/PID/stat over ~2 s.
  test('an idle gateway uses less than 5% of a core per process', { timeout: 20000 }, gw.wrap(async () => {
    const procs = gw.procs.filter((p) => p.running);
    const before = procs.map((p) => cpuSeconds(p.pid));
    const t0 = process.hrtime.bigint();
    await delay(2000); // the measurement window, not a synchronisation
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const report = procs.map((p, i) => {
      const share = (cpuSeconds(p.pid) - before[i]) / seconds;
      return { name: p.name, share };
    });
    for (const { name, share } of report) {
      assert.ok(share < 0.05, `${name} used ${(share * 100).toFixed(1)}% of a core while idle (${JSON.stringify(report)})`);
    }
  }));

  gw.stopTest(test);
});
