// The persist service in the whole gateway (router, ingest, edge, persist on
// a database of its own, TELEGRAPHY_TEST_DATABASE_URL's server): what must
// survive a restart survives it, and a guaranteed publish is answered only
// once the event is committed. Run alone:
//   TELEGRAPHY_BIN_DIR=build-asan/bin node --test --test-concurrency=1 tests/integration/persist.test.mjs
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  Gateway, Proc, RawWamp, WampError, WAMP, BIN_DIR, databaseUrlFor, freePorts, mintToken, newJti, psql,
  testDatabaseUrl, waitFor, withTimeout,
} from './harness.mjs';

const SECRET = 'persist-integration-secret-0123456789abcdef';

// Publishes until the ingest accepts (exit 0), within the deadline; returns
// ctl's last answer. Used after restarts, when the registry comes back
// asynchronously (persist -> router -> ingest).
async function publishWhenKnown(gw, name, kwargs, { timeoutMs = 20000 } = {}) {
  let last;
  await waitFor(`telegraphy-ctl publish ${name} to be accepted`, async () => {
    gw.assertAlive();
    last = await gw.publishOnce(name, kwargs, ['--json']);
    return last.code === 0;
  }, { timeoutMs, intervalMs: 200 }).catch((e) => {
    e.message += `\nlast ctl: code=${last?.code} stdout=${last?.stdout} stderr=${last?.stderr}`;
    throw e;
  });
  return last;
}

function pubId(result) {
  return BigInt(JSON.parse(result.stdout).pub_id);
}

describe('persist: the registry and guaranteed publishes', () => {
  const gw = new Gateway({ name: 'persist', persist: true });
  before(async () => {
    await gw.start();
    await gw.waitPersist();
  }, { timeout: 60000 });
  after(async () => {
    await gw.stop();
  });

  // A type registered once is known again after the router and the ingest
  // are both killed and restarted: persist re-sends it to the new router,
  // which teaches the new ingest; no one registers it again.
  test('the registry survives a restart of router and ingest together', { timeout: 60000 }, gw.wrap(async () => {
    await gw.register('it.persist.kept');
    await waitFor('persist to store the type', () =>
      gw.sql("SELECT count(*) FROM telegraphy_types WHERE name = 'it.persist.kept'") === '1',
    { timeoutMs: 10000, intervalMs: 50 });
    await gw.killRouter();
    await gw.killIngest();
    gw.restartRouter();
    gw.restartIngest();
    await gw.waitReady();
    const r = await publishWhenKnown(gw, 'it.persist.kept', { n: 1 });
    assert.equal(r.code, 0);
  }));

  // `telegraphy-ctl publish` of a guaranteed type with a ttl exits 0 only
  // once persist committed the event: the row is there right after.
  test('a guaranteed publish exits 0 only after the event is committed', { timeout: 30000 }, gw.wrap(async () => {
    await gw.register('it.persist.sure', ['--guaranteed', '--ttl', '60']);
    const r = await publishWhenKnown(gw, 'it.persist.sure', { n: 1 });
    const id = pubId(r);
    assert.equal(gw.sql(`SELECT count(*) FROM telegraphy_events WHERE pub_id = ${id}`), '1');
  }));

  // `telegraphy-ctl status` shows persist below the table: its database
  // ready, commit latency, batch size, what is stored (issue 11's ops view).
  test('ctl status shows the persist line with its database and backlog', { timeout: 30000 }, gw.wrap(async () => {
    const persist = await gw.waitPersist();
    await waitFor('a persist line saying the database is ready', async () => {
      const r = await gw.ctl(['status']);
      return r.code === 0 && new RegExp(`^persist ${persist.instance}: database=ready commit p50/p99=\\d+/\\d+ ms `
        + 'batch=\\d+ \\(max \\d+\\) stored=\\d+ failed=\\d+ persistent_subscriptions=\\d+ backlog=\\d+ ', 'm')
        .test(r.stdout);
    }, { timeoutMs: 10000, intervalMs: 200 });
  }));

  // With persist killed a guaranteed publish is refused as unavailable
  // (never a false success); once persist is back it succeeds again.
  test('a guaranteed publish fails unavailable while persist is down, then succeeds again', { timeout: 60000 }, gw.wrap(async () => {
    await gw.register('it.persist.down', ['--guaranteed', '--ttl', '60']);
    await publishWhenKnown(gw, 'it.persist.down', { n: 0 });
    const before = await gw.waitPersist();
    await gw.killPersist();
    const refused = await gw.publishOnce('it.persist.down', { n: 1 });
    assert.notEqual(refused.code, 0, `publish succeeded with persist down: ${refused.stdout}`);
    assert.match(refused.stdout + refused.stderr, /telegraphy\.error\.unavailable/);
    gw.restartPersist();
    await gw.waitPersist({ notInstance: before.instance });
    const r = await publishWhenKnown(gw, 'it.persist.down', { n: 2 });
    assert.equal(gw.sql(`SELECT count(*) FROM telegraphy_events WHERE pub_id = ${pubId(r)}`), '1');
  }));
});

describe('persist: spent tokens', () => {
  const gw = new Gateway({ name: 'persist-tokens', persist: true, secret: SECRET });
  before(async () => {
    await gw.start();
    await gw.waitPersist();
    await gw.waitTicketAuth();
  }, { timeout: 60000 });
  after(async () => {
    await gw.stop();
  });

  // A ws token spent before the router (and the edge, which also remembers
  // what it spent) restarted is still refused after: persist gave the new
  // router its jti.
  test('a replayed ws token is refused after a router restart', { timeout: 60000 }, gw.wrap(async () => {
    const jti = newJti();
    const token = mintToken(SECRET, { typ: 'ws', sub: '7', grp: [], exp: Math.floor(Date.now() / 1000) + 120, jti });
    const first = gw.track(await RawWamp.open(gw.edgeUrl(0)));
    await first.helloTicket(token);
    first.terminate();
    await waitFor('persist to store the spent jti', () =>
      gw.sql(`SELECT count(*) FROM telegraphy_spent_tokens WHERE jti = '${jti}'`) === '1',
    { timeoutMs: 10000, intervalMs: 50 });
    await gw.killEdge(0);
    await gw.killRouter();
    gw.restartRouter();
    gw.restartEdge(0);
    await gw.waitReady();
    await gw.waitTicketAuth(); // fresh tokens work again: the router's start-up window is over
    const again = gw.track(await RawWamp.open(gw.edgeUrl(0)));
    let err = null;
    try {
      await again.helloTicket(token);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof WampError, 'the replayed token was accepted');
    assert.equal(err.msg[0], WAMP.ABORT);
    assert.equal(err.msg[2], 'wamp.error.authentication_failed');
  }));
});

describe('persist: a database it must not write', () => {
  // A database whose schema is newer than this binary knows is refused for
  // good: persist logs both versions and exits 1 (it does not retry).
  test('a newer schema makes telegraphy-persist exit 1 naming both versions', { timeout: 30000 }, async () => {
    const base = testDatabaseUrl();
    const name = `tg_it_newer_${process.pid}_${Date.now() % 100000}`;
    psql(base, `CREATE DATABASE ${name}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telegraphy-it-newer-'));
    try {
      const url = databaseUrlFor(base, name);
      psql(url, 'CREATE TABLE telegraphy_schema (version integer); INSERT INTO telegraphy_schema VALUES (999)');
      const [router] = await freePorts(1);
      const persist = new Proc('persist', path.join(BIN_DIR, 'telegraphy-persist'),
        ['--router', `tcp://127.0.0.1:${router}`, '--database-url', url], path.join(dir, 'persist.log'));
      persist.stopping = true; // its own exit is what this test waits for
      persist.start();
      const exit = await withTimeout(persist.exited, 20000, 'telegraphy-persist to exit');
      assert.equal(exit.code, 1, persist.log());
      assert.match(persist.log(), /found version 999, this binary knows up to version \d+/);
      persist.checkSanitizers();
      assert.deepEqual(persist.problems, []);
    } finally {
      psql(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
