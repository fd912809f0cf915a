// Faults while guaranteed events stream in: whatever happens to persist,
// the router or persist's database connection, every publish answered
// ACCEPTED is committed (its row is in PostgreSQL), and every other one is
// REJECTED telegraphy.error.unavailable: never a false ACCEPTED. Counts are
// printed as test diagnostics. Run alone:
//   TELEGRAPHY_BIN_DIR=build-asan/bin node --test --test-concurrency=1 tests/integration/persist_faults.test.mjs
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, waitFor } from './harness.mjs';

const TYPE = 'it.faults.sure';
const EVENTS = 4000;

describe('persist faults during a stream of guaranteed publishes', () => {
  const gw = new Gateway({ name: 'persist-faults', persist: true });
  let first = 0;
  before(async () => {
    await gw.start();
    await gw.waitPersist();
    await gw.register(TYPE, ['--guaranteed', '--ttl', '600']);
    await waitFor(`${TYPE} to be publishable`, async () => (await gw.publishOnce(TYPE, { seq: -1 })).code === 0,
      { timeoutMs: 20000, intervalMs: 200 });
  }, { timeout: 60000 });
  after(async () => {
    await gw.stop();
  });

  function storedCount() {
    return Number(gw.sql(`SELECT count(*) FROM telegraphy_events WHERE topic = '${TYPE}'`));
  }

  // Streams EVENTS publishes; once `atStored` more rows are committed than
  // before, runs `fault`; then checks the answers against the table.
  async function streamThrough(t, fault) {
    const base = storedCount();
    const burst = gw.publishBurst(TYPE, EVENTS, { first, window: 64, timeoutMs: 90000 });
    first += EVENTS;
    await waitFor('a part of the stream to be committed', () => storedCount() >= base + EVENTS / 8,
      { timeoutMs: 30000, intervalMs: 20 });
    await fault();
    const r = await burst;
    t.diagnostic(`accepted ${r.accepted}, rejected ${r.rejected.length} of ${EVENTS}`);
    assert.equal(r.accepted + r.rejected.length, EVENTS);
    for (const x of r.rejected) {
      assert.equal(x.command, 'REJECTED');
      assert.equal(x.error, 'telegraphy.error.unavailable', JSON.stringify(x));
    }
    const ids = r.pubIds.join(',');
    const committed = ids ? Number(gw.sql(`SELECT count(*) FROM telegraphy_events WHERE pub_id = ANY('{${ids}}'::bigint[])`)) : 0;
    assert.equal(committed, r.accepted, 'an event answered ACCEPTED is not in the table');
    return r;
  }

  // kill -9 of persist mid-stream, then a new persist on the same database.
  test('kill -9 of persist: every ACCEPTED event is committed, the rest REJECTED unavailable', { timeout: 120000 }, gw.wrap(async (t) => {
    await streamThrough(t, async () => {
      const old = await gw.waitPersist();
      await gw.killPersist();
      gw.restartPersist();
      await gw.waitPersist({ notInstance: old.instance });
    });
  }));

  // kill -9 of the router mid-stream (the ingest's waiting publishes are
  // refused at their deadline), then a new router.
  test('kill -9 of the router: every ACCEPTED event is committed, the rest REJECTED unavailable', { timeout: 120000 }, gw.wrap(async (t) => {
    await streamThrough(t, async () => {
      await gw.killRouter();
      gw.restartRouter();
      await gw.waitReady();
    });
  }));

  // persist's PostgreSQL session killed mid-stream (as a database restart
  // does): persist reconnects by itself.
  test('persist\'s database session terminated: every ACCEPTED event is committed, the rest REJECTED unavailable', { timeout: 120000 }, gw.wrap(async (t) => {
    await streamThrough(t, async () => {
      const killed = gw.sql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${gw.databaseName}' AND pid <> pg_backend_pid()`);
      assert.ok(Number(killed) >= 1, 'no session of persist to terminate');
    });
    const p = await gw.waitPersist();
    assert.ok(p.stats.db_reconnects >= 1, `db_reconnects ${p.stats.db_reconnects}`);
  }));
});
