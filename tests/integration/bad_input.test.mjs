// Bad input (DESIGN §4): every process survives any input on any socket. A
// bad WebSocket peer gets ABORT or a close with a reason within a second and
// is dropped; the edge counts it (/metrics bad_input); every other session
// carries on, and a new session still subscribes and receives. Malformed
// ZeroMQ traffic to the router and the ingest is counted and dropped.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Gateway, RawWamp, WAMP, PYTHON, metricValue, waitFor, withTimeout } from './harness.mjs';
import { connectClient } from './clients.mjs';

const TOPIC = 'itest.badinput.tick';
const MAX_MESSAGE = 4096;
const HERE = path.dirname(fileURLToPath(import.meta.url));

const J = 'wamp.2.json';
const M = 'wamp.2.msgpack';
const HELLO = [WAMP.HELLO, 'telegraphy', { roles: { subscriber: {} } }];
const utf8 = (s) => Buffer.from(s, 'utf8');

// name, subprotocol, whether the session says HELLO first, what to send.
const CASES = [
  ['invalid JSON before HELLO', J, false, (c) => c.sendRaw('[1, "telegraphy", {', { binary: false })],
  ['invalid JSON after WELCOME', J, true, (c) => c.sendRaw(`[32, 1, {}, "${TOPIC}"`, { binary: false })],
  ['invalid UTF-8 in a text frame', J, false,
    (c) => c.sendRaw(Buffer.concat([utf8('[1, "tele'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), utf8('graphy", {}]')]), { binary: false })],
  ['invalid UTF-8 inside a JSON string after WELCOME', J, true,
    (c) => c.sendRaw(Buffer.concat([utf8(`[32, 1, {}, "${TOPIC}`), Buffer.from([0xed, 0xa0, 0x80]), utf8('"]')]), { binary: false })],
  ['a binary frame on wamp.2.json', J, false, (c) => c.sendRaw(utf8(JSON.stringify(HELLO)), { binary: true })],
  ['invalid msgpack on wamp.2.msgpack', M, false, (c) => c.sendRaw(Buffer.from([0xc1, 0x93, 0x01]), { binary: true })],
  ['truncated msgpack after WELCOME', M, true, (c) => c.sendRaw(Buffer.from([0x94, 0x20, 0x01, 0x80, 0xb0, 0x61]), { binary: true })],
  ['msgpack with an ext type in SUBSCRIBE options', M, true,
    (c) => c.sendRaw(Buffer.concat([Buffer.from([0x94, 0x20, 0x01, 0x81, 0xa1, 0x78, 0xd4, 0x05, 0x01, 0xb3]), utf8(TOPIC)]), { binary: true })],
  ['a JSON object instead of an array', J, false, (c) => c.sendRaw('{"hello": "telegraphy"}', { binary: false })],
  ['a JSON number instead of an array', J, true, (c) => c.sendRaw('42', { binary: false })],
  ['a msgpack map instead of an array', M, false, (c) => c.sendRaw(Buffer.from([0x81, 0xa1, 0x61, 0x01]), { binary: true })],
  ['HELLO with the wrong arity', J, false, (c) => c.send([WAMP.HELLO, 'telegraphy'])],
  ['HELLO with the wrong types', J, false, (c) => c.send([WAMP.HELLO, 42, []])],
  ['an empty array', J, false, (c) => c.send([])],
  ['a message type that is not an integer', J, false, (c) => c.send(['HELLO', 'telegraphy', {}])],
  ['SUBSCRIBE with a string request id', J, true, (c) => c.send([WAMP.SUBSCRIBE, 'one', {}, TOPIC])],
  ['SUBSCRIBE with a request id above 2^53', J, true, (c) => c.sendRaw(`[32, 18014398509481984, {}, "${TOPIC}"]`, { binary: false })],
  ['SUBSCRIBE with the wrong arity', M, true, (c) => c.send([WAMP.SUBSCRIBE, 1, {}])],
  ['SUBSCRIBE with options that are not a dict', J, true, (c) => c.send([WAMP.SUBSCRIBE, 1, [], TOPIC])],
  ['SUBSCRIBE before HELLO', J, false, (c) => c.send([WAMP.SUBSCRIBE, 1, {}, TOPIC])],
  ['CALL before HELLO', M, false, (c) => c.send([WAMP.CALL, 1, {}, 'telegraphy.events.list'])],
  ['HELLO twice', J, true, (c) => c.send(HELLO)],
  ['HELLO twice (msgpack)', M, true, (c) => c.send(HELLO)],
  ['an unknown message type after WELCOME', J, true, (c) => c.send([99, 1, {}])],
  ['an unknown message type before HELLO', M, false, (c) => c.send([1000, 1])],
  ['a WELCOME sent by the client', J, false, (c) => c.send([WAMP.WELCOME, 1, {}])],
  ['nesting deeper than the limit', J, false,
    (c) => c.sendRaw(`[1, "telegraphy", {"a": ${'['.repeat(200)}${']'.repeat(200)}}]`, { binary: false })],
  [`a text message over --max-message (${MAX_MESSAGE})`, J, true,
    (c) => c.send([WAMP.CALL, 1, {}, 'telegraphy.events.list', ['x'.repeat(MAX_MESSAGE * 2)]])],
  [`a binary message over --max-message (${MAX_MESSAGE})`, M, true,
    (c) => c.send([WAMP.CALL, 1, {}, 'telegraphy.events.list', ['x'.repeat(MAX_MESSAGE * 2)]])],
  [`a message over --max-message sent as fragments`, J, true, (c) => {
    const text = JSON.stringify([WAMP.CALL, 1, {}, 'telegraphy.events.list', ['y'.repeat(MAX_MESSAGE * 3)]]);
    const step = 1000;
    for (let i = 0; i < text.length; i += step) c.ws.send(text.slice(i, i + step), { binary: false, fin: i + step >= text.length });
  }],
];

function runGarbage(gw, raw) {
  const args = [
    path.join(HERE, 'zmq_garbage.py'),
    '--router', gw.routerEndpoint,
    '--control', gw.controlEndpoint,
    '--ingest', gw.ingestEndpoint,
    '--ingest-ack', gw.ingestAckEndpoint,
  ];
  if (raw) args.push('--raw');
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { timeout: 60000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`zmq_garbage.py failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function statOf(gw, role, stat) {
  const status = await gw.status();
  assert.ok(status, 'telegraphy-ctl status --json failed');
  const p = status.find((x) => x.role === role);
  assert.ok(p, `status lists no ${role}: ${JSON.stringify(status.map((x) => x.raw))}`);
  const v = p.stats[stat];
  assert.ok(v !== undefined, `${role} reports no ${stat}: ${JSON.stringify(p.raw)}`);
  return Number(v);
}

describe('bad input', () => {
  const gw = new Gateway({ name: 'badinput', edges: 1, edgeArgs: ['--max-message', String(MAX_MESSAGE)] });
  let bystander; // a healthy session open through every case
  let bystanderSub;
  let serial = 0;

  before(async () => {
    await gw.start();
    await gw.register(TOPIC);
    await gw.waitEventTypes([TOPIC]);
    bystander = await connectClient('autobahn-json', gw.edgeUrl(0));
    bystanderSub = await bystander.subscribe(TOPIC);
  });

  after(async () => {
    if (bystander) await bystander.close();
    await gw.stop();
  });

  // The healthy path still works: a new session subscribes and receives an
  // event, and the bystander session (open since before the bad input) too.
  async function assertHealthy(kind = 'raw-json') {
    gw.assertAlive();
    const fresh = await connectClient(kind, gw.edgeUrl(0), gw);
    const sub = await fresh.subscribe(TOPIC);
    const marker = `healthy-${++serial}`;
    await gw.publish(TOPIC, { marker });
    await sub.inbox.waitFor((it) => it.kwargs?.marker === marker, 10000, 'event at a new session');
    await bystanderSub.inbox.waitFor((it) => it.kwargs?.marker === marker, 10000, 'event at the bystander');
    assert.ok(bystander.alive, 'bystander session still open');
  }

  async function edgeBadInput() {
    const v = metricValue(await gw.metrics(0), 'bad_input');
    assert.ok(v !== undefined, '/metrics has a bad_input counter');
    return v;
  }

  CASES.forEach(([name, protocol, helloFirst, sendBad], i) => {
    // The offender gets ABORT or a close frame within a second, bad_input
    // rises on /metrics, and everyone else carries on.
    test(`bad input ${i + 1}: ${name} -> ABORT or close, counted, others unaffected`, { timeout: 30000 },
      gw.wrap(async () => {
        const before = await edgeBadInput();
        const c = gw.track(await RawWamp.open(gw.edgeUrl(0), protocol));
        if (helloFirst) await c.hello();
        const t0 = Date.now();
        sendBad(c);
        const closed = await withTimeout(c.closed, 1000, `${name}: connection closed by the edge`).catch((e) => {
          const abort = c.inbox.find((m) => Array.isArray(m.msg) && m.msg[0] === WAMP.ABORT);
          e.message += abort ? ` (an ABORT came: ${JSON.stringify(abort.msg)}, but no close)` : ' (no ABORT either)';
          e.message += `; inbox: ${JSON.stringify(c.inbox.map((m) => m.msg))}`;
          throw e;
        });
        const abort = c.inbox.find((m) => Array.isArray(m.msg) && m.msg[0] === WAMP.ABORT);
        const detail = `close ${closed.code} "${closed.reason}" after ${closed.at - t0} ms, inbox ${JSON.stringify(c.inbox.map((m) => m.msg))}`;
        assert.ok(abort || (closed.code !== 1005 && closed.code !== 1006),
          `neither ABORT nor a close frame with a code: ${detail}`);
        if (abort) {
          assert.match(String(abort.msg[2]), /^[a-z0-9_]+(\.[a-z0-9_]+)+$/, `ABORT reason is a URI: ${detail}`);
        }
        assert.ok(!c.inbox.some((m) => Array.isArray(m.msg) && m.msg[0] === WAMP.WELCOME && !helloFirst),
          `the offender was welcomed: ${detail}`);
        await waitFor(`bad_input to rise above ${before}`, async () => (await edgeBadInput()) > before, { timeoutMs: 2000 });
        await assertHealthy(i % 2 ? 'raw-msgpack' : 'raw-json');
      }));
  });

  // A message just under --max-message is still accepted (the limit is not
  // off by a lot): a CALL of about 3 KiB gets its RESULT.
  test('a message under --max-message is accepted', { timeout: 20000 }, gw.wrap(async () => {
    const c = gw.track(await RawWamp.open(gw.edgeUrl(0), J));
    await c.hello();
    c.send([WAMP.CALL, 7, {}, 'telegraphy.events.list', ['z'.repeat(MAX_MESSAGE - 1024)]]);
    const { msg } = await c.expect((m) => Array.isArray(m) && (m[0] === WAMP.RESULT || m[0] === WAMP.ERROR) && m.includes(7), 5000, 'RESULT');
    assert.strictEqual(msg[0], WAMP.RESULT, JSON.stringify(msg));
  }));

  // PUBLISH from a browser is refused with wamp.error.not_authorized (the
  // event type does not allow client publishing), and the session goes on.
  test('PUBLISH from a client is refused with wamp.error.not_authorized', { timeout: 20000 }, gw.wrap(async () => {
    const c = gw.track(await RawWamp.open(gw.edgeUrl(0), J));
    await c.hello();
    c.send([WAMP.PUBLISH, 5, { acknowledge: true }, TOPIC, [], { x: 1 }]);
    const { msg } = await c.expectType(WAMP.ERROR, 5000, 'ERROR for PUBLISH');
    assert.deepStrictEqual([msg[1], msg[2], msg[4]], [WAMP.PUBLISH, 5, 'wamp.error.not_authorized']);
    const subId = await c.subscribe(TOPIC);
    assert.ok(subId, 'session still usable');
    assert.strictEqual(c.closeInfo, null);
  }));

  // Malformed ZeroMQ messages to the router (peer and control sockets) and
  // to the ingest (PULL and ack sockets) are counted as bad_input and
  // dropped; raw non-ZMTP bytes on those ports harm nothing; events flow.
  test('malformed ZeroMQ traffic to router and ingest is counted and dropped', { timeout: 90000 },
    gw.wrap(async () => {
      const routerBefore = await statOf(gw, 'router', 'bad_input');
      const ingestBefore = await statOf(gw, 'ingest', 'bad_input');
      const out = await runGarbage(gw, true);
      assert.match(out, /router: \d+ malformed/);
      gw.assertAlive();
      await waitFor('router bad_input to rise', async () => (await statOf(gw, 'router', 'bad_input')) > routerBefore,
        { timeoutMs: 10000, intervalMs: 200 });
      await waitFor('ingest bad_input to rise', async () => (await statOf(gw, 'ingest', 'bad_input')) > ingestBefore,
        { timeoutMs: 10000, intervalMs: 200 });
      gw.assertAlive();
      await assertHealthy('autobahn-msgpack');
      // The status still lists exactly the real peers: garbage made no peer.
      const status = await gw.status();
      assert.strictEqual(status.filter((p) => p.role === 'edge').length, 1, JSON.stringify(status.map((p) => p.raw)));
      assert.strictEqual(status.filter((p) => p.role === 'ingest').length, 1);
    }));

  gw.stopTest(test);
});
