// Batched writes (services/edge/edge_ws.c): the edge writes a session's
// queued frames together, as raw bytes with headers it composed itself,
// one write per WRITEABLE callback. These tests hold it to the WebSocket
// framing a client relies on, in the cases batching makes hard: frames of
// every header size in one burst (7-, 16- and 64-bit lengths), frames
// larger than the 64 KiB batch buffer (written alone), and a reader that
// stops long enough for the kernel buffers to fill, so that libwebsockets
// holds a partial write and must finish it before the next batch.
// Every event must reach json and msgpack sessions whole and in order.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, waitFor } from './harness.mjs';
import { connectClient } from './clients.mjs';

const TOPIC = 'itest.batching.mixed';
const MAX_EVENT = 300000;
// Pad sizes cycle through every WebSocket length encoding: under 126
// bytes of frame, 16-bit lengths, and past 64 KiB (64-bit length, and
// larger than the batch buffer).
const PADS = [8, 1000, 70000, 8, 200000, 30000];

describe('batched writes', () => {
  const gw = new Gateway({ name: 'batching', edges: 1, ingestArgs: ['--max-event', String(MAX_EVENT)],
    // The router sizes its sockets' largest message from max-event too.
    routerArgs: ['--max-event', String(MAX_EVENT)],
  });

  before(() => gw.startWithTypes([TOPIC]));

  after(async () => {
    await gw.stop();
  });

  // Bursts of 40 events per pad size, published through the acknowledged
  // path while one json reader has stopped reading; a msgpack and a json
  // reader keep reading. Once the stalled one resumes, all three have
  // every event in publication order with its pad intact.
  test('mixed frame sizes reach reading and stalled readers whole and in order',
    { timeout: 120000 }, gw.wrap(async () => {
      const json = await connectClient('raw-json', gw.edgeUrl(0), gw);
      const msgpack = await connectClient('raw-msgpack', gw.edgeUrl(0), gw);
      const stalled = await connectClient('raw-json', gw.edgeUrl(0), gw);
      const subs = [await json.subscribe(TOPIC), await msgpack.subscribe(TOPIC), await stalled.subscribe(TOPIC)];
      stalled.raw.pauseReading();

      const PER_SIZE = 40;
      const expectedPad = [];
      let seq = 0;
      for (const pad of PADS) {
        const r = await gw.publishBurst(TOPIC, PER_SIZE, { first: seq, padBytes: pad, window: 16, timeoutMs: 60000 });
        assert.strictEqual(r.accepted, PER_SIZE, `burst of pad ${pad}: ${JSON.stringify(r.rejected.slice(0, 2))}`);
        for (let i = 0; i < PER_SIZE; i++) expectedPad.push(pad);
        seq += PER_SIZE;
      }
      const total = seq;
      await waitFor(`the reading sessions to receive ${total} events`,
        () => subs[0].inbox.items.length >= total && subs[1].inbox.items.length >= total, { timeoutMs: 60000 })
        .catch((e) => {
          e.message += ` (json ${subs[0].inbox.items.length}, msgpack ${subs[1].inbox.items.length}, ` +
            `stalled ${subs[2].inbox.items.length}; closed: ${JSON.stringify([json, msgpack, stalled].map((c) => c.raw.closeInfo))})`;
          throw e;
        });
      assert.ok(subs[2].inbox.items.length < total, 'the stalled reader should not have everything before it resumes');
      stalled.raw.resumeReading();
      await waitFor(`the stalled session to receive ${total} events`,
        () => subs[2].inbox.items.length >= total || stalled.raw.closeInfo, { timeoutMs: 60000 });

      for (const [name, sub, client] of [['json', subs[0], json], ['msgpack', subs[1], msgpack], ['stalled json', subs[2], stalled]]) {
        assert.strictEqual(client.raw.closeInfo, null, `${name}: closed ${JSON.stringify(client.raw.closeInfo)}`);
        const items = sub.inbox.items;
        assert.strictEqual(items.length, total, `${name}: ${items.length} events`);
        assert.deepStrictEqual(items.map((it) => it.kwargs?.seq), Array.from({ length: total }, (_, i) => i),
          `${name}: every event once, in order`);
        const badPad = items.findIndex((it, i) => it.kwargs?.pad?.length !== expectedPad[i] ||
          it.kwargs.pad !== 'x'.repeat(expectedPad[i]));
        assert.strictEqual(badPad, -1, `${name}: event ${badPad} has a damaged pad`);
      }
    }));
});
