// telegraphy-ctl tap: the live event stream as it leaves the router, on the
// router's monitor socket. Contract: issue 7 ("tap [PATTERN] [--filter
// QUERY] ... a bounded, droppable side channel") and docs/operations.md.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, waitFor } from './harness.mjs';

const T_ORDER = 'itest.tap.order';
const T_OTHER = 'itest.other.thing';

describe('telegraphy-ctl tap', () => {
  const gw = new Gateway({ name: 'tap' });

  before(async () => {
    await gw.startWithTypes([T_ORDER, T_OTHER]);
  });

  after(async () => {
    await gw.stop();
  });

  // A tap with a topic prefix and a filter prints one line per routed event
  // that both select (topic, publication id, body size, subscriptions,
  // edges), and nothing for the others. Its subscription reaches the router
  // asynchronously, so probes are published until the first line appears.
  test('tap prints the routed events its pattern and filter select, and only those', { timeout: 60000 },
    gw.wrap(async () => {
      const tap = gw.spawnCtl(['tap', '--json', 'itest.tap', '--filter', 'amount > 5']);
      const probes = new Set();
      const pubId = (r) => r.stdout.trim();
      await waitFor('the tap to print a probe', async () => {
        probes.add(pubId(await gw.publish(T_ORDER, { amount: 100, probe: probes.size })));
        return tap.lines.length > 0;
      }, { timeoutMs: 20000, intervalMs: 200 });
      await gw.publish(T_ORDER, { amount: 1 }); // refused by the filter
      await gw.publish(T_OTHER, { amount: 50 }); // refused by the pattern
      const last = pubId(await gw.publish(T_ORDER, { amount: 7 }));
      const seen = () => tap.lines.map((l) => JSON.parse(l));
      await waitFor('the tap line of the last event', () => seen().some((l) => String(l.pub_id) === last), { timeoutMs: 10000 });
      await tap.stop();
      // Events are routed in order: everything but the probes and the last
      // event has been tapped or refused by now.
      const lines = seen().filter((l) => !probes.has(String(l.pub_id)));
      assert.equal(lines.length, 1, `one line besides the probes: ${JSON.stringify(lines)}`);
      const [line] = lines;
      assert.equal(line.topic, T_ORDER);
      assert.equal(String(line.pub_id), last);
      assert.ok(line.size > 0, 'size is the body size');
      assert.equal(Number(line.subscriptions), 0, 'nobody subscribed');
      assert.equal(Number(line.edges), 0);
    }));

  gw.stopTest(test);
});
