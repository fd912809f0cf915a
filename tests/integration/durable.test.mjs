// Persistent and `_since` subscriptions end to end (DESIGN §2.3, §2.4,
// §2.6; issue 11): real router, ingest, edge and persist on a real
// PostgreSQL (TELEGRAPHY_TEST_DATABASE_URL), WAMP clients speaking to the
// edge. Covers: a persistent subscription across a disconnect (the
// backlog first, in order, marked _replay, then live), acks removing the
// stored rows (checked in SQL), the option checks (identity_required,
// invalid_argument), the gap error, and the identity cookie (an allowed
// Origin keeps its client_id, a foreign one gets none).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { Gateway, RawWamp, WAMP, WampError, mintToken, newJti, waitFor } from './harness.mjs';

const SECRET = 'it-durable-secret-0123456789abcdef-0123';
const GUARANTEED = 'durable.order.shipped'; // --guaranteed
const RETAINED = 'durable.price.tick'; // --ttl 60
const PLAIN = 'durable.plain.news';

function wsToken(sub) {
  const payload = { typ: 'ws', exp: Math.floor(Date.now() / 1000) + 60, jti: newJti(), grp: [] };
  if (sub) payload.sub = sub;
  return mintToken(SECRET, payload);
}

// Opens a RawWamp with extra upgrade headers; resolves {client, setCookie}.
function openWithHeaders(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'wamp.2.json', { headers, handshakeTimeout: 5000 });
    let setCookie = null;
    ws.once('upgrade', (res) => {
      setCookie = res.headers['set-cookie'] || null;
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({ client: new RawWamp(ws, 'wamp.2.json'), setCookie }));
  });
}

// Collects the EVENTs of one subscription as {pub, replay, n}.
function collect(client, subId) {
  const got = [];
  const take = (msg) => {
    if (msg[1] === subId) got.push({ pub: msg[2], replay: msg[3]?._replay === true, n: msg[5]?.n });
  };
  // An EVENT can come in the same read as SUBSCRIBED, before the caller
  // knew the subscription id and set this up: it waits in the inbox.
  client.inbox = client.inbox.filter(({ msg }) => {
    if (!(Array.isArray(msg) && msg[0] === WAMP.EVENT && msg[1] === subId)) return true;
    take(msg);
    return false;
  });
  client.onEvent = take;
  return got;
}

describe('durable subscriptions', () => {
  const gw = new Gateway({ name: 'durable', secret: SECRET, persist: true });

  before(async () => {
    await gw.start();
    await gw.register(GUARANTEED, ['--guaranteed']);
    await gw.register(RETAINED, ['--ttl', '60']);
    await gw.register(PLAIN);
    await gw.waitEventTypes([GUARANTEED, RETAINED, PLAIN]);
    await gw.waitTicketAuth();
  });

  after(async () => {
    await gw.stop();
  });

  // Events published while a persistent subscriber is away reach it when it
  // subscribes again: first, in publication order, marked _replay; then
  // live ones without the mark; nothing twice.
  test('persistent subscription receives what it missed, in order, then live', async () => {
    const first = await RawWamp.open(gw.edgeUrl(0));
    const welcome = await first.helloTicket(wsToken('alice'));
    const resume = welcome[2].authextra.resume_token;
    const clientId = welcome[2].authextra.client_id;
    assert.ok(clientId);
    const subId = await first.subscribe(GUARANTEED, { _persistent: true });
    const live = collect(first, subId);
    await gw.publish(GUARANTEED, { n: 0 });
    await waitFor('the live event', () => live.length === 1);
    assert.equal(live[0].replay, false);
    await first.call('telegraphy.ack', [], { subscription: subId, upto: live[0].pub });
    first.terminate();
    await first.closed;

    for (let n = 1; n <= 5; n++) await gw.publish(GUARANTEED, { n });

    const second = await RawWamp.open(gw.edgeUrl(0));
    const again = await second.helloTicket(resume);
    assert.equal(again[2].authextra.client_id, clientId, 'the resume token keeps the client id');
    const got = collect(second, await second.subscribe(GUARANTEED, { _persistent: true }));
    await waitFor('the five missed events', () => got.length >= 5, { timeoutMs: 15000 });
    assert.deepEqual(got.map((e) => e.n), [1, 2, 3, 4, 5]);
    assert.ok(got.every((e) => e.replay), 'backlog events are marked _replay');
    const pubs = got.map((e) => e.pub);
    assert.deepEqual([...pubs].sort((a, b) => a - b), pubs, 'in publication order');
    await gw.publish(GUARANTEED, { n: 6 });
    await waitFor('the live event after the backlog', () => got.length === 6);
    assert.equal(got[5].n, 6);
    assert.equal(got[5].replay, false);
    assert.equal(new Set(got.map((e) => e.pub)).size, 6, 'nothing twice');
    second.terminate();
  });

  // telegraphy.ack deletes the client's stored delivery rows (SQL).
  test('acks remove the stored rows', async () => {
    const c = await RawWamp.open(gw.edgeUrl(0));
    const welcome = await c.helloTicket(wsToken('bob'));
    const clientId = welcome[2].authextra.client_id;
    const subId = await c.subscribe(GUARANTEED, { _persistent: true });
    const got = collect(c, subId);
    for (let n = 1; n <= 3; n++) await gw.publish(GUARANTEED, { n });
    await waitFor('three events', () => got.length === 3);
    const owed = () => Number(gw.sql(
      `SELECT count(*) FROM telegraphy_deliveries d JOIN telegraphy_subscriptions s USING (sub_key)
       WHERE s.client_id = '${clientId}'`));
    assert.equal(owed(), 3, 'stored until acked');
    await c.call('telegraphy.ack', [[got[0].pub]]);
    await waitFor('one row gone', () => owed() === 2);
    await c.call('telegraphy.ack', [], { subscription: subId, upto: got[2].pub });
    await waitFor('all rows gone', () => owed() === 0);
    c.terminate();
  });

  // `_persistent` without an identity: identity_required, and the session
  // carries on.
  test('persistent without identity is identity_required', async () => {
    const c = await RawWamp.open(gw.edgeUrl(0));
    await c.hello();
    await assert.rejects(c.subscribe(GUARANTEED, { _persistent: true }),
      (e) => e instanceof WampError && e.error === 'telegraphy.error.identity_required');
    assert.ok(await c.subscribe(PLAIN));
    c.terminate();
  });

  // `_since` that is not an integer, or negative: invalid_argument.
  test('since not an integer or negative is invalid_argument', async () => {
    const c = await RawWamp.open(gw.edgeUrl(0));
    await c.hello();
    for (const since of ['12', 1.5, -3, 0]) {
      await assert.rejects(c.subscribe(RETAINED, { _since: since }),
        (e) => e instanceof WampError && e.error === 'wamp.error.invalid_argument', `since ${since}`);
    }
    assert.ok(await c.subscribe(PLAIN));
    c.terminate();
  });

  // `_since` below what is held: ERROR telegraphy.error.gap {oldest}.
  test('since below what is held is a gap with oldest', async () => {
    await gw.publish(RETAINED, { n: 1 });
    const c = await RawWamp.open(gw.edgeUrl(0));
    await c.hello();
    const err = await c.subscribe(RETAINED, { _since: 1 }).then(() => null, (e) => e);
    assert.ok(err instanceof WampError, 'refused');
    assert.equal(err.error, 'telegraphy.error.gap');
    const kwargs = err.msg[6];
    assert.ok(kwargs && 'oldest' in kwargs, `kwargs carry oldest: ${JSON.stringify(err.msg)}`);
    c.terminate();
  });

  // `_since` replays the retained events after it, marked, then goes live.
  test('since replays retained events after it, then live', async () => {
    const r = await gw.publish(RETAINED, { n: 10 }, ['--json']);
    const first = Number(JSON.parse(r.stdout).pub_id);
    assert.ok(first > 0, `publish --json gives the pub_id: ${r.stdout}`);
    await gw.publish(RETAINED, { n: 11 });
    await gw.publish(RETAINED, { n: 12 });
    const c = await RawWamp.open(gw.edgeUrl(0));
    await c.hello();
    const subId = await c.subscribe(RETAINED, { _since: first - 1 });
    const got = collect(c, subId);
    await waitFor('the retained events', () => got.some((e) => e.n === 12), { timeoutMs: 10000 });
    assert.deepEqual(got.map((e) => e.n), [10, 11, 12]);
    assert.ok(got.every((e) => e.replay));
    await gw.publish(RETAINED, { n: 13 });
    await waitFor('live after the replay', () => got.some((e) => e.n === 13));
    assert.equal(got.at(-1).replay, false);
    assert.equal(new Set(got.map((e) => e.pub)).size, got.length, 'nothing twice');
    c.terminate();
  });

  // The identity cookie: from an allowed Origin (the gateway's host name)
  // the cookie's client_id comes back on the next upgrade, also for an
  // anonymous session; a foreign Origin sending the same cookie gets no
  // identity (and no cookie).
  test('a foreign Origin gets no identity from the cookie', async () => {
    const url = gw.edgeUrl(0);
    const host = new URL(url).hostname;
    const first = await openWithHeaders(url, { Origin: `http://${host}:8000` });
    assert.ok(first.setCookie, 'the allowed origin gets the cookie');
    const cookie = first.setCookie[0].split(';')[0];
    assert.match(first.setCookie[0], /HttpOnly/);
    const w1 = await first.client.hello();
    const clientId = w1[2].authextra?.client_id;
    assert.ok(clientId, 'an anonymous session of an allowed origin has a client id');
    first.client.terminate();

    const again = await openWithHeaders(url, { Origin: `http://${host}:9000`, Cookie: cookie });
    const w2 = await again.client.hello();
    assert.equal(w2[2].authextra?.client_id, clientId, 'same browser, same client id');
    again.client.terminate();

    const foreign = await openWithHeaders(url, { Origin: 'http://evil.example', Cookie: cookie });
    assert.equal(foreign.setCookie, null, 'no cookie for a foreign origin');
    const w3 = await foreign.client.hello();
    assert.equal(w3[2].authextra?.client_id, undefined, 'no identity from the cookie');
    await assert.rejects(foreign.client.subscribe(GUARANTEED, { _persistent: true }),
      (e) => e instanceof WampError && e.error === 'telegraphy.error.identity_required');
    foreign.client.terminate();
  });
});
