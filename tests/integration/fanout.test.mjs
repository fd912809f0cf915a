// Fan-out: many concurrent sessions, each receiving every event of its
// subscription, none lost, in publication order. Sessions are raw
// WebSockets speaking WAMP json (AutobahnJS x 200 would only add client CPU).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, RawWamp, waitFor } from './harness.mjs';

const TOPIC = 'itest.fanout.tick';
const SESSIONS = 200;
const EVENTS = 100;

describe('fan-out', () => {
  const gw = new Gateway({ name: 'fanout', edges: 1 });

  before(() => gw.startWithTypes([TOPIC]));

  after(async () => {
    await gw.stop();
  });

  // 200 sessions x 100 events: every session receives all 100 events of its
  // subscription exactly once, in publication order (seq and publication id
  // both increasing), all under the one shared subscription id.
  test(`${SESSIONS} concurrent sessions each receive all ${EVENTS} events in publication order`, { timeout: 180000 },
    gw.wrap(async () => {
      const sessions = [];
      for (let i = 0; i < SESSIONS; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(25, SESSIONS - i) }, async () => {
            const c = gw.track(await RawWamp.open(gw.edgeUrl(0), 'wamp.2.json'));
            await c.hello();
            const subId = await c.subscribe(TOPIC);
            const s = { c, subId, seqs: [], pubIds: [], wrongSub: 0 };
            c.onEvent = (msg) => {
              if (msg[1] !== subId) s.wrongSub++;
              s.seqs.push(msg[5]?.seq);
              s.pubIds.push(msg[2]);
            };
            return s;
          }),
        );
        sessions.push(...batch);
      }
      const subIds = new Set(sessions.map((s) => s.subId));
      assert.strictEqual(subIds.size, 1, 'one subscription id shared by all sessions');

      for (let seq = 0; seq < EVENTS; seq++) await gw.publish(TOPIC, { seq });

      const total = () => sessions.reduce((n, s) => n + s.seqs.length, 0);
      await waitFor(`${SESSIONS * EVENTS} deliveries`, () => total() >= SESSIONS * EVENTS, {
        timeoutMs: 60000,
        intervalMs: 100,
      }).catch((e) => {
        const short = sessions.filter((s) => s.seqs.length < EVENTS).length;
        e.message += ` (have ${total()}, ${short} sessions short, closed: ${sessions.filter((s) => s.c.closeInfo).length})`;
        throw e;
      });

      const expected = Array.from({ length: EVENTS }, (_, i) => i);
      sessions.forEach((s, i) => {
        assert.strictEqual(s.wrongSub, 0, `session ${i}: events under another subscription id`);
        assert.deepStrictEqual(s.seqs, expected, `session ${i}: events lost, duplicated or out of order`);
        for (let k = 1; k < s.pubIds.length; k++) {
          assert.ok(s.pubIds[k] > s.pubIds[k - 1], `session ${i}: publication ids not increasing at ${k}`);
        }
        assert.strictEqual(s.c.closeInfo, null, `session ${i} was closed`);
      });
      // Every session saw the same publication ids.
      const first = JSON.stringify(sessions[0].pubIds);
      for (const s of sessions) assert.strictEqual(JSON.stringify(s.pubIds), first);
    }));

  gw.stopTest(test);
});
