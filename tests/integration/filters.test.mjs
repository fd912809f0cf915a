// Subscription filters (the event query language) through the whole
// gateway: the router parses, canonicalises and indexes them, the edge keys
// its subscriptions by the canonical text. Contract: DESIGN.md §2.3
// (`_filter`, telegraphy.error.invalid_filter) and §2.5.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Gateway, Inbox, RawWamp, WampError, autobahnConnect } from './harness.mjs';

const T_CHAT = 'itest.filter.chat';
const T_TASK = 'itest.filter.task';

// A raw client (json or msgpack) whose EVENTs land in one inbox per
// subscription id, so a test sees exactly what each subscription got.
async function rawClient(gw, url, protocol = 'wamp.2.json') {
  const raw = await RawWamp.open(url, protocol);
  await raw.hello();
  const inboxes = new Map();
  raw.onEvent = (msg) => {
    const id = String(msg[1]);
    if (!inboxes.has(id)) inboxes.set(id, new Inbox());
    inboxes.get(id).push({ kwargs: msg[5], details: msg[3] });
  };
  const client = {
    raw,
    async subscribe(topic, options) {
      const subId = String(await raw.subscribe(topic, options));
      if (!inboxes.has(subId)) inboxes.set(subId, new Inbox());
      return { subId, inbox: inboxes.get(subId) };
    },
    close: () => raw.close(),
  };
  gw.track({ close: () => raw.close() });
  return client;
}

// kwargs of an inbox, minus nothing: the published maps, in order.
const seqs = (inbox) => inbox.items.map((it) => Number(it.kwargs.seq));

describe('subscription filters', () => {
  const gw = new Gateway({ name: 'filters', edges: 2 });

  before(() => gw.startWithTypes([T_CHAT, T_TASK]));

  after(async () => {
    await gw.stop();
  });

  // Two sessions with different filters on one topic each receive exactly
  // the events their filter matches, in publication order; a third without
  // a filter receives them all. The last event matches every filter, so
  // once it arrived nothing earlier can still be on its way.
  test('sessions with different filters on one topic each receive exactly their events', { timeout: 60000 },
    gw.wrap(async () => {
      const lobby = await rawClient(gw, gw.edgeUrl(0), 'wamp.2.json');
      const urgent = await rawClient(gw, gw.edgeUrl(1), 'wamp.2.msgpack');
      const all = await rawClient(gw, gw.edgeUrl(0), 'wamp.2.json');
      const sLobby = await lobby.subscribe(T_CHAT, { _filter: 'room == "lobby" or last == true' });
      const sUrgent = await urgent.subscribe(T_CHAT, { _filter: '(tags contains "urgent" and score >= 10) or last == true' });
      const sAll = await all.subscribe(T_CHAT, {});
      assert.notStrictEqual(sLobby.subId, sUrgent.subId);

      const events = [
        { seq: 1, room: 'lobby', tags: [], score: 0 },
        { seq: 2, room: 'dev', tags: ['urgent'], score: 10 },
        { seq: 3, room: 'lobby', tags: ['urgent'], score: 50 },
        { seq: 4, room: 'dev', tags: ['urgent'], score: 9.5 },
        { seq: 5, room: 'Lobby', tags: 'urgent', score: 100 },
        { seq: 6, room: null, tags: ['x', 'urgent'], score: 1e3 },
        { seq: 7, tags: ['urgent'] },
        { seq: 8, room: 'lobby', last: true },
      ];
      for (const e of events) await gw.publish(T_CHAT, e);

      await sLobby.inbox.waitFor((it) => it.kwargs.last === true, 10000, 'lobby: last');
      await sUrgent.inbox.waitFor((it) => it.kwargs.last === true, 10000, 'urgent: last');
      await sAll.inbox.waitFor((it) => it.kwargs.last === true, 10000, 'all: last');
      assert.deepStrictEqual(seqs(sLobby.inbox), [1, 3, 8]);
      // 5: tags is a string, and "urgent" is a substring of it: contains on
      // a string is a substring test (docs/query-language.md).
      assert.deepStrictEqual(seqs(sUrgent.inbox), [2, 3, 5, 6, 8]);
      assert.deepStrictEqual(seqs(sAll.inbox), [1, 2, 3, 4, 5, 6, 7, 8]);
    }));

  // A channel is just a filter: `room == "x"` needs no server-side setup,
  // and 50 rooms on one topic each get only their own messages.
  test('a filter on a field emulates channels without server-side setup', { timeout: 60000 },
    gw.wrap(async () => {
      const c = await rawClient(gw, gw.edgeUrl(0));
      const rooms = [];
      for (let i = 0; i < 50; i++) rooms.push(await c.subscribe(T_TASK, { _filter: `room == "r${i}"` }));
      for (let i = 0; i < 49; i += 7) await gw.publish(T_TASK, { room: `r${i}`, seq: i });
      await gw.publish(T_TASK, { room: 'r49', seq: 49 });
      await rooms[49].inbox.waitCount(1, 10000, 'room 49');
      for (let i = 0; i < 50; i++) {
        const expected = (i % 7 === 0 && i < 49) || i === 49 ? [i] : [];
        assert.deepStrictEqual(seqs(rooms[i].inbox), expected, `room r${i}`);
      }
    }));

  // An invalid filter is refused with telegraphy.error.invalid_filter and a
  // message that gives the column of the fault; the session carries on.
  test('an invalid filter gives ERROR telegraphy.error.invalid_filter with the column', { timeout: 30000 },
    gw.wrap(async () => {
      const c = await rawClient(gw, gw.edgeUrl(0));
      const cases = [
        ['room == ', 9], // end of input, after the operator
        ['room = "lobby"', 6],
        ['(a == 1', 8],
        ['a == "unterminated', 6],
      ];
      for (const [filter, column] of cases) {
        await assert.rejects(c.subscribe(T_CHAT, { _filter: filter }), (err) => {
          assert.ok(err instanceof WampError, `${filter}: ${err}`);
          assert.strictEqual(err.error, 'telegraphy.error.invalid_filter', filter);
          assert.match(String(err.message), new RegExp(`column ${column}\\b`), `${filter}: "${err.message}"`);
          return true;
        });
      }
      const ok = await c.subscribe(T_CHAT, { _filter: 'room == "ok"' });
      await gw.publish(T_CHAT, { room: 'ok', seq: 99 });
      await ok.inbox.waitCount(1, 10000, 'event after the refused filters');
    }));

  // Identical filters share one subscription id on every edge, also when
  // spelled differently (operand order, parentheses, quotes, spacing); a
  // different filter gets another id. AutobahnJS passes _filter through.
  test('equivalent filters from sessions on two edges get the same subscription id', { timeout: 30000 },
    gw.wrap(async () => {
      const a = await rawClient(gw, gw.edgeUrl(0));
      const b = await rawClient(gw, gw.edgeUrl(1), 'wamp.2.msgpack');
      const sa = await a.subscribe(T_TASK, { _filter: 'owner == 7 and status in ["open", "blocked"]' });
      const sb = await b.subscribe(T_TASK, { _filter: "(status in ['blocked','open'])and(owner==7)" });
      assert.strictEqual(sb.subId, sa.subId);
      const other = await a.subscribe(T_TASK, { _filter: 'owner == 8 and status in ["open", "blocked"]' });
      assert.notStrictEqual(other.subId, sa.subId);

      const ab = await autobahnConnect(gw.edgeUrl(0), { serializer: 'json' });
      gw.track({ close: () => ab.close() });
      const got = [];
      const sub = await ab.session.subscribe(T_TASK, (args, kwargs) => got.push(kwargs), { _filter: 'status in ["open","blocked"] and owner == 7' });
      assert.strictEqual(String(sub.id), sa.subId);

      await gw.publish(T_TASK, { owner: 7, status: 'done', seq: 1 });
      await gw.publish(T_TASK, { owner: 7, status: 'open', seq: 2 });
      await sa.inbox.waitCount(1, 10000, 'owner 7 open');
      await sb.inbox.waitCount(1, 10000, 'owner 7 open on edge 1');
      assert.deepStrictEqual(seqs(sa.inbox), [2]);
      assert.deepStrictEqual(seqs(sb.inbox), [2]);
    }));

  gw.stopTest(test);
});
