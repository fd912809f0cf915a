// Router crash and restart (DESIGN §1 state ownership): edges own live
// sessions and re-send their subscriptions when the router comes back, the
// ingest re-sends the event types it knows, so connected clients keep
// receiving without reconnecting.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, waitFor } from './harness.mjs';
import { connectClient } from './clients.mjs';

const EXACT = 'itest.resync.ping';
const OTHER = 'itest.resync.other.thing';

describe('router restart', () => {
  const gw = new Gateway({ name: 'resync', edges: 2 });

  before(() => gw.startWithTypes([EXACT, OTHER]));

  after(async () => {
    await gw.stop();
  });

  // kill -9 of the router with subscribers connected on two edges, restart
  // on the same ports: once the edges and the ingest have resynced, events
  // published after the restart reach the same sessions (same session ids,
  // never closed), on exact and prefix subscriptions alike, in order.
  test('after kill -9 and restart of the router, the same sessions receive new events', { timeout: 120000 },
    gw.wrap(async () => {
      const clients = [
        await connectClient('autobahn-json', gw.edgeUrl(0), gw),
        await connectClient('raw-msgpack', gw.edgeUrl(1), gw), // wampy is covered in pubsub.test.mjs
        await connectClient('raw-json', gw.edgeUrl(1), gw),
      ];
      const sessionIds = clients.map((c) => String(c.sessionId));
      const subs = [];
      for (const c of clients) {
        subs.push({ c, s: await c.subscribe(EXACT), what: `${c.kind} exact` });
        subs.push({ c, s: await c.subscribe('itest.resync', 'prefix'), what: `${c.kind} prefix` });
      }
      await gw.publish(EXACT, { phase: 'before' });
      for (const { s, what } of subs) {
        await s.inbox.waitFor((it) => it.kwargs?.phase === 'before', 10000, `${what}: event before the crash`);
      }

      const oldPid = gw.router.pid;
      await gw.killRouter();
      gw.router.start(); // same flags, same ports
      assert.notStrictEqual(gw.router.pid, oldPid);

      // Resync: publish probes until one reaches every subscription (a
      // publish may be refused, or accepted before the edges re-subscribed).
      let probe = 0;
      const everyoneGot = (p) => subs.every(({ s }) => s.inbox.items.some((it) => it.kwargs?.probe === p));
      await waitFor('a probe event to reach every subscription after the restart', async () => {
        const p = ++probe;
        const r = await gw.publishOnce(EXACT, { phase: 'probe', probe: p });
        if (r.code !== 0) return false;
        const deadline = Date.now() + 1000;
        while (Date.now() < deadline) {
          if (everyoneGot(p)) return true;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return false;
      }, { timeoutMs: 30000, intervalMs: 100 });

      // From now on every event is delivered, in order, on both topics.
      for (let i = 0; i < 5; i++) await gw.publish(i % 2 ? OTHER : EXACT, { phase: 'after', i });
      for (const { s, what } of subs) {
        const isPrefix = what.endsWith('prefix');
        const want = isPrefix ? [0, 1, 2, 3, 4] : [0, 2, 4];
        await s.inbox.waitFor(() => s.inbox.items.filter((it) => it.kwargs?.phase === 'after').length >= want.length,
          10000, `${what}: ${want.length} events after the restart`);
        const got = s.inbox.items.filter((it) => it.kwargs?.phase === 'after').map((it) => Number(it.kwargs.i));
        assert.deepStrictEqual(got, want, `${what}: events after the restart`);
      }

      // Nobody reconnected: same sessions, still open.
      clients.forEach((c, i) => {
        assert.ok(c.alive, `${c.kind} session was closed`);
        assert.strictEqual(String(c.sessionId), sessionIds[i], `${c.kind} got a new session`);
      });

      // The restarted router knows every peer again.
      await waitFor('status to list the ingest and both edges', async () => {
        const st = await gw.status();
        return st && st.filter((p) => p.role === 'edge').length === 2 && st.some((p) => p.role === 'ingest');
      }, { timeoutMs: 10000, intervalMs: 200 });
    }));

  gw.stopTest(test);
});
