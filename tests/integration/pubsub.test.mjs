// Publish/subscribe through the whole gateway (ctl -> ingest -> router ->
// edge -> WAMP client), with every client kind: AutobahnJS json and msgpack,
// wampy msgpack, and raw WebSockets (json, msgpack) that see the exact bytes.
// Contract: DESIGN.md §2.3.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, RawWamp, WAMP, autobahnConnect, wampyConnect } from './harness.mjs';
import { CLIENT_KINDS, connectClient, normalizeInts } from './clients.mjs';

const T_SHIPPED = 'itest.shop.order.shipped';
const T_CREATED = 'itest.shop.order.created';
const T_NEWS = 'itest.news.item';
const T_TYPED = 'itest.typed.thing';
const MAX_ID = 2 ** 53;

// Event data with what a JSON round trip can lose: unicode (keys too),
// escapes, null, booleans, nesting, the largest safe integers, floats.
const SAFE = {
  text: 'héllo wörld ✓ 日本語 🚀',
  quote: 'a"b\\c\nd\te\u0001f/',
  empty: '',
  nothing: null,
  yes: true,
  no: false,
  nested: { a: [1, [2, [3, { b: 'c' }]]], m: {}, l: [] },
  ключ: 'значение',
  zero: 0,
  neg: -1,
  max_safe: 9007199254740991,
  min_safe: -9007199254740991,
  f01: 0.1,
  f15: 1.5,
  fneg: -2.25,
  fbig: 1e300,
  ftiny: 5e-324,
};
const I64MAX = 9223372036854775807n;
const I64MIN = -9223372036854775808n;

// JSON text of the kwargs: 64-bit integers written by hand so they are exact.
function kwargsText(marker) {
  return JSON.stringify({ ...SAFE, marker }).slice(0, -1) + `,"i64max":${I64MAX},"i64min":${I64MIN}}`;
}

// The kwargs a client delivered equal the published ones, as far as its
// decoder can represent them: JSON clients (and msgpack5 in AutobahnJS) turn
// 64-bit integers into doubles; wampy/raw msgpack decode them as BigInt and
// must be exact; raw JSON text must carry the exact digits.
function assertKwargsExact(kind, item, marker) {
  const kw = normalizeInts(item.kwargs);
  const { i64max, i64min, ...rest } = kw;
  assert.deepStrictEqual(rest, { ...SAFE, marker }, `${kind}: kwargs differ`);
  if (kind === 'wampy-msgpack' || kind === 'raw-msgpack') {
    assert.strictEqual(i64max, I64MAX, `${kind}: i64max`);
    assert.strictEqual(i64min, I64MIN, `${kind}: i64min`);
  } else {
    assert.strictEqual(Number(i64max), 2 ** 63, `${kind}: i64max ~ 2^63`);
    assert.strictEqual(Number(i64min), -(2 ** 63), `${kind}: i64min ~ -2^63`);
  }
  if (kind === 'raw-json') {
    assert.match(item.raw, /"i64max"\s*:\s*9223372036854775807\s*[,}]/, 'JSON text carries 2^63-1 exactly');
    assert.match(item.raw, /"i64min"\s*:\s*-9223372036854775808\s*[,}]/, 'JSON text carries -2^63 exactly');
    assert.match(item.raw, /"max_safe"\s*:\s*9007199254740991\s*[,}]/);
  }
}

function assertId(id, what) {
  const n = Number(id);
  assert.ok(Number.isInteger(n) && n >= 1 && n <= MAX_ID, `${what} ${id} is an integer in [1, 2^53]`);
}

let markerSerial = 0;
function marker(name) {
  return `${name}-${Date.now()}-${++markerSerial}`;
}

describe('publish/subscribe', () => {
  const gw = new Gateway({ name: 'pubsub', edges: 2 });

  before(async () => {
    await gw.start();
    await gw.register(T_SHIPPED);
    await gw.register(T_CREATED);
    await gw.register(T_NEWS);
    await gw.register(T_TYPED, ['--fields', 'order_id,carrier', '--ttl', '300', '--audience', 'public']);
    await gw.waitEventTypes([T_SHIPPED, T_CREATED, T_NEWS, T_TYPED]);
  });

  after(async () => {
    await gw.stop();
  });

  for (const kind of CLIENT_KINDS) {
    // Exact, prefix and wildcard subscriptions each receive exactly the
    // events whose topic they match (one EVENT per matching subscription),
    // with kwargs exactly as published, details.topic on pattern matches,
    // details.ts a µs timestamp of now, and one publication id per event.
    test(`${kind}: exact, prefix and wildcard subscriptions receive matching events exactly as published`,
      { timeout: 60000 },
      gw.wrap(async () => {
        const c = await connectClient(kind, gw.edgeUrl(0), gw);
        const exact = await c.subscribe(T_SHIPPED, 'exact');
        const prefix = await c.subscribe('itest.shop', 'prefix');
        const wild = await c.subscribe('itest..order.created', 'wildcard');
        for (const s of [exact, prefix, wild]) assertId(s.subId, 'subscription id');
        assert.notStrictEqual(String(exact.subId), String(prefix.subId));
        assert.notStrictEqual(String(prefix.subId), String(wild.subId));

        const m = marker(kind);
        const t0 = Date.now();
        await gw.publish(T_NEWS, { marker: m, k: 'news' });
        await gw.publish(T_SHIPPED, kwargsText(m));
        await gw.publish(T_CREATED, { marker: m, k: 'created' });

        const [shipped] = await exact.inbox.waitCount(1, 10000, 'exact: shipped');
        const [pShipped, pCreated] = await prefix.inbox.waitCount(2, 10000, 'prefix: shipped + created');
        const [wCreated] = await wild.inbox.waitCount(1, 10000, 'wildcard: created');
        const t1 = Date.now();

        assertKwargsExact(kind, shipped, m);
        assertKwargsExact(kind, pShipped, m);
        assert.deepStrictEqual(normalizeInts(pCreated.kwargs), { marker: m, k: 'created' });
        assert.deepStrictEqual(normalizeInts(wCreated.kwargs), { marker: m, k: 'created' });

        // Each event names the subscription it was delivered for.
        if (kind !== 'wampy-msgpack') {
          assert.strictEqual(String(shipped.subId), String(exact.subId));
          assert.strictEqual(String(pShipped.subId), String(prefix.subId));
          assert.strictEqual(String(wCreated.subId), String(wild.subId));
        }
        // details.topic on pattern-based deliveries (AutobahnJS would show the
        // pattern itself if the EVENT had no topic).
        assert.strictEqual(pShipped.topic, T_SHIPPED);
        assert.strictEqual(pCreated.topic, T_CREATED);
        assert.strictEqual(wCreated.topic, T_CREATED);

        // One publication id per event, increasing in publication order.
        if (shipped.pubId !== undefined) {
          assertId(shipped.pubId, 'publication id');
          assert.strictEqual(String(shipped.pubId), String(pShipped.pubId));
          assert.strictEqual(String(pCreated.pubId), String(wCreated.pubId));
          assert.ok(BigInt(pCreated.pubId) > BigInt(pShipped.pubId), 'publication ids increase');
        }
        // details.ts: µs since the epoch, between publish and delivery.
        if (shipped.details) {
          for (const it of [shipped, pShipped, pCreated, wCreated]) {
            const ts = Number(it.details.ts);
            assert.ok(Number.isInteger(ts), `details.ts ${it.details.ts} is an integer`);
            assert.ok(ts >= (t0 - 1000) * 1000 && ts <= (t1 + 1000) * 1000,
              `details.ts ${ts} µs within [${t0 - 1000}, ${t1 + 1000}] ms`);
          }
        }
        // The unmatched topic reached nobody: it was published first, so it
        // would have arrived before the events above.
        for (const s of [exact, prefix, wild]) {
          assert.ok(!s.inbox.items.some((it) => it.kwargs?.k === 'news'), `${kind}: news delivered to a non-matching subscription`);
        }
        if (c.stray) assert.deepStrictEqual(c.stray, [], 'events for unknown subscription ids');
        assert.strictEqual(exact.inbox.items.length, 1);
        assert.strictEqual(wild.inbox.items.length, 1);
      }));
  }

  // Subscription ids are router-scoped: the same topic + match gives the same
  // id to every session on every edge, whatever its serializer; another
  // match on the same topic gives another id.
  test('identical subscriptions from sessions on two edges get the same subscription id', { timeout: 30000 },
    gw.wrap(async () => {
      const a = await connectClient('raw-json', gw.edgeUrl(0), gw);
      const b = await connectClient('raw-msgpack', gw.edgeUrl(1), gw);
      const c = await connectClient('autobahn-json', gw.edgeUrl(0), gw);
      const sa = await a.subscribe(T_SHIPPED);
      const sb = await b.subscribe(T_SHIPPED);
      const sc = await c.subscribe(T_SHIPPED);
      assert.strictEqual(String(sb.subId), String(sa.subId));
      assert.strictEqual(String(sc.subId), String(sa.subId));
      const pa = await a.subscribe(T_SHIPPED, 'prefix');
      const pb = await b.subscribe(T_SHIPPED, 'prefix');
      assert.strictEqual(String(pa.subId), String(pb.subId));
      assert.notStrictEqual(String(pa.subId), String(sa.subId));
      // And both edges deliver the next event under that id.
      const m = marker('same-id');
      await gw.publish(T_SHIPPED, { marker: m });
      for (const s of [sa, sb, sc]) {
        const ev = await s.inbox.waitFor((it) => it.kwargs?.marker === m, 10000, 'event on the shared id');
        if (ev.subId !== undefined) assert.strictEqual(String(ev.subId), String(sa.subId));
      }
    }));

  for (const kind of ['autobahn-json', 'wampy-msgpack', 'raw-json']) {
    // After UNSUBSCRIBED a session gets no more events of that subscription,
    // while another session holding the same subscription still does.
    test(`${kind}: unsubscribe stops delivery to that session only`, { timeout: 30000 },
      gw.wrap(async () => {
        const c = await connectClient(kind, gw.edgeUrl(0), gw);
        const other = await connectClient('raw-json', gw.edgeUrl(0), gw);
        const target = await c.subscribe(T_NEWS);
        const sentinel = await c.subscribe(T_CREATED);
        const otherSub = await other.subscribe(T_NEWS);
        const m1 = marker('before-unsub');
        await gw.publish(T_NEWS, { marker: m1 });
        await target.inbox.waitFor((it) => it.kwargs?.marker === m1, 10000, 'event before unsubscribe');

        await c.unsubscribe(target);
        const m2 = marker('after-unsub');
        await gw.publish(T_NEWS, { marker: m2 });
        await gw.publish(T_CREATED, { marker: m2 });
        await otherSub.inbox.waitFor((it) => it.kwargs?.marker === m2, 10000, 'other session still gets the event');
        // The sentinel was published after the event: once it is here, the
        // event would have been too.
        await sentinel.inbox.waitFor((it) => it.kwargs?.marker === m2, 10000, 'sentinel event');
        assert.ok(!target.inbox.items.some((it) => it.kwargs?.marker === m2), 'event delivered after unsubscribe');
        if (c.stray) assert.deepStrictEqual(c.stray.filter((it) => it.kwargs?.marker === m2), []);
      }));
  }

  for (const protocol of ['wamp.2.json', 'wamp.2.msgpack']) {
    // GOODBYE from the client is answered with GOODBYE
    // wamp.close.goodbye_and_out (WAMP's closing handshake).
    test(`GOODBYE is answered with GOODBYE wamp.close.goodbye_and_out (${protocol})`, { timeout: 15000 },
      gw.wrap(async () => {
        const c = gw.track(await RawWamp.open(gw.edgeUrl(0), protocol));
        await c.hello();
        c.send([WAMP.GOODBYE, {}, 'wamp.close.system_shutdown']);
        const { msg } = await c.expectType(WAMP.GOODBYE, 2000, 'GOODBYE reply');
        assert.strictEqual(msg[2], 'wamp.close.goodbye_and_out');
        assert.ok(msg[1] && typeof msg[1] === 'object', 'GOODBYE details is a dict');
      }));

    // WELCOME announces the broker role with pattern-based subscriptions.
    test(`WELCOME announces roles.broker.features.pattern_based_subscription (${protocol})`, { timeout: 15000 },
      gw.wrap(async () => {
        const c = gw.track(await RawWamp.open(gw.edgeUrl(1), protocol));
        const welcome = await c.hello();
        assertId(welcome[1], 'session id');
        assert.strictEqual(welcome[2]?.roles?.broker?.features?.pattern_based_subscription, true);
      }));

    // Any realm but the configured one is refused with ABORT
    // wamp.error.no_such_realm.
    test(`HELLO for another realm gets ABORT wamp.error.no_such_realm (${protocol})`, { timeout: 15000 },
      gw.wrap(async () => {
        const c = gw.track(await RawWamp.open(gw.edgeUrl(0), protocol));
        c.send([WAMP.HELLO, 'not.telegraphy', { roles: { subscriber: {} } }]);
        const { msg } = await c.expectType(WAMP.ABORT, 2000, 'ABORT');
        assert.strictEqual(msg[2], 'wamp.error.no_such_realm');
      }));
  }

  // AutobahnJS and wampy see the same refusal of a wrong realm.
  test('AutobahnJS and wampy are refused a wrong realm with wamp.error.no_such_realm', { timeout: 20000 },
    gw.wrap(async () => {
      await assert.rejects(autobahnConnect(gw.edgeUrl(0), { realm: 'nope' }), (e) => {
        assert.strictEqual(e.details?.reason, 'wamp.error.no_such_realm', JSON.stringify(e.details));
        return true;
      });
      await assert.rejects(wampyConnect(gw.edgeUrl(0), { realm: 'nope' }), (e) => {
        const text = `${e.errorUri ?? ''} ${e.message} ${JSON.stringify(e.details ?? {})}`;
        assert.match(text, /wamp\.error\.no_such_realm/);
        return true;
      });
    }));

  for (const kind of CLIENT_KINDS) {
    // telegraphy.events.list answers args[0] = the registered types, each
    // {name, fields, audience, ttl, guaranteed}.
    test(`${kind}: telegraphy.events.list returns the registered event types`, { timeout: 20000 },
      gw.wrap(async () => {
        const c = await connectClient(kind, gw.edgeUrl(0), gw);
        const args = await c.call('telegraphy.events.list');
        const list = normalizeInts(args[0]);
        assert.ok(Array.isArray(list), `args[0] is a list: ${JSON.stringify(args)}`);
        const byName = Object.fromEntries(list.map((t) => [t.name, t]));
        for (const n of [T_SHIPPED, T_CREATED, T_NEWS, T_TYPED]) assert.ok(byName[n], `${n} listed`);
        const typed = byName[T_TYPED];
        assert.deepStrictEqual([...typed.fields].sort(), ['carrier', 'order_id']);
        assert.strictEqual(typed.audience, 'public');
        assert.strictEqual(typed.ttl, 300);
        assert.strictEqual(typed.guaranteed, false);
        for (const t of list) {
          for (const key of ['name', 'fields', 'audience', 'ttl', 'guaranteed']) {
            assert.ok(key in t, `${t.name} has ${key}: ${JSON.stringify(t)}`);
          }
        }
      }));

    // An exact subscription to a type nobody registered is an ERROR
    // telegraphy.error.unknown_event, and the session stays usable.
    test(`${kind}: exact subscription to an unknown event type fails with telegraphy.error.unknown_event`,
      { timeout: 20000 },
      gw.wrap(async () => {
        const c = await connectClient(kind, gw.edgeUrl(1), gw);
        await assert.rejects(c.subscribe('itest.never.registered', 'exact'), (e) => {
          assert.strictEqual(e.error, 'telegraphy.error.unknown_event');
          return true;
        });
        const s = await c.subscribe(T_NEWS);
        const m = marker('after-unknown');
        await gw.publish(T_NEWS, { marker: m });
        await s.inbox.waitFor((it) => it.kwargs?.marker === m, 10000, 'event after the error');
      }));
  }

  // Publication ids are unique and increasing in publication order; ts is
  // the publication time in µs and never goes backwards either.
  test('publication ids increase and details.ts follows publication order', { timeout: 30000 },
    gw.wrap(async () => {
      const c = await connectClient('raw-json', gw.edgeUrl(0), gw);
      const s = await c.subscribe(T_NEWS);
      const m = marker('order');
      for (let i = 0; i < 5; i++) await gw.publish(T_NEWS, { marker: m, i });
      const items = await s.inbox.waitCount(5, 10000, '5 events');
      assert.deepStrictEqual(items.map((it) => it.kwargs.i), [0, 1, 2, 3, 4]);
      for (let i = 1; i < 5; i++) {
        assert.ok(items[i].pubId > items[i - 1].pubId, `pub ids increase: ${items.map((it) => it.pubId)}`);
        assert.ok(items[i].details.ts >= items[i - 1].details.ts, 'ts does not go backwards');
      }
    }));

  gw.stopTest(test);
});
