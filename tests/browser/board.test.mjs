// The demo board in headless Chromium (issue 3): two pages open the demo
// against a real gateway; an item created through Django appears in both
// within a deadline; a room filter keeps other rooms out; after kill -9 and
// restart of the edge on the same port the pages show `reconnecting`, then
// `open`, and receive the next item; items added while the board's tab was
// closed appear, in order and once, when it is opened again (the board's
// subscription is persistent: a real persist on PostgreSQL). Ends with a
// screenshot in tests/browser/output/board.png.
//
// Chromium: Debian's /usr/bin/chromium (TELEGRAPHY_CHROMIUM), driven by
// playwright-core, headless, fresh profile in a temporary --user-data-dir.
// Gateway binaries: TELEGRAPHY_BIN_DIR (default build-asan/bin).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { Gateway, REPO_ROOT } from '../integration/harness.mjs';
import { DemoSite } from './demo.mjs';

const CHROMIUM = process.env.TELEGRAPHY_CHROMIUM || '/usr/bin/chromium';
const OUTPUT_DIR = path.join(REPO_ROOT, 'tests', 'browser', 'output');
const SCREENSHOT = path.join(OUTPUT_DIR, 'board.png');
const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];
const DELIVERY_MS = 5000; // an item must reach every open page within this
const STATE_MS = 20000; // a state change (reconnect backoff is capped, with jitter)

// The text of #state, and every value it took since the page loaded.
const STATE_LOG_SCRIPT = () => {
  const el = document.getElementById('state');
  window.__states = [el.textContent];
  new MutationObserver(() => window.__states.push(el.textContent)).observe(el, {
    childList: true, characterData: true, subtree: true,
  });
};

async function waitState(page, state, timeout = STATE_MS) {
  await page.waitForFunction((s) => document.getElementById('state')?.textContent === s, state, { timeout });
}

// The <li> of the item titled `title` on `page` (its dataset), once it is
// there and came by event (data-via="live": the page also reloads its list
// after a reconnect, which must not count as a delivery); throws after the
// deadline.
async function waitItem(page, title, timeout = DELIVERY_MS) {
  const handle = await page.waitForFunction((t) => {
    const li = [...document.querySelectorAll('#items li')].find((x) => x.querySelector('.title')?.textContent === t);
    return li && li.dataset.via === 'live' ? { ...li.dataset } : null;
  }, title, { timeout });
  return handle.jsonValue();
}

function itemTitles(page) {
  return page.$$eval('#items li .title', (els) => els.map((e) => e.textContent));
}

// Adds an item through the page's own form (a real POST to Django).
async function addThroughForm(page, title, room) {
  await page.fill('#id_title', title);
  await page.selectOption('#id_room', room);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/');
  await page.click('#new-item button[type=submit]');
  const response = await posted;
  assert.equal(response.status(), 201, `the form POST answered ${response.status()}: ${await response.text()}`);
}

describe('the demo board in Chromium', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing` }, () => {
  // persist: the board's events are guaranteed and its subscription
  // persistent; the secret signs the edge's identity cookie (and is the one
  // the demo signs its tokens with).
  const gw = new Gateway({ name: 'browser', edges: 1, persist: true,
    secret: 'browser-board-secret-0123456789abcdef-0123456789' });
  const demo = new DemoSite(gw);
  let profileDir;
  let context;
  let all; // the board, every room
  let lobby; // the board, filtered to the lobby
  const pageErrors = [];

  before(async () => {
    const autobahnJs = path.join(REPO_ROOT, 'django_telegraphy', 'static', 'telegraphy', 'autobahn.min.js');
    if (!fs.existsSync(autobahnJs)) throw new Error(`${autobahnJs} is missing: run 'make static'`);
    await gw.start();
    await demo.start();
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'telegraphy-chromium-'));
    // launchPersistentContext owns --user-data-dir (a fresh one per run);
    // headless: true adds --headless.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1200, height: 800 },
    });
    const open = async (url) => {
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
      await page.goto(url);
      await page.evaluate(STATE_LOG_SCRIPT);
      return page;
    };
    all = await open(demo.url);
    lobby = await open(`${demo.url}?room=lobby`);
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
    await demo.stop();
  });

  // `open` is only announced once the page's subscription is live
  // (telegraphy.js re-subscribes before it says so), and the room filter is
  // shown in the subscription line.
  test('both pages connect and show the state "open" with a live subscription', gw.wrap(async () => {
    for (const page of [all, lobby]) {
      await waitState(page, 'open');
      await page.waitForSelector('#subscription[data-status="live"]', { timeout: STATE_MS });
    }
    assert.match(await lobby.textContent('#subscription'), /room == "lobby"/);
    assert.doesNotMatch(await all.textContent('#subscription'), /room ==/);
  }));

  // The form POST creates the Item; its post_save (on commit) publishes
  // board.item.created; the item reaches both pages by event, not by a reload.
  test('an item added through the form in one page appears in both pages', gw.wrap(async () => {
    const title = 'Coffee is ready';
    await addThroughForm(all, title, 'lobby');
    for (const page of [all, lobby]) assert.equal((await waitItem(page, title)).room, 'lobby');
  }));

  // The room selector subscribes with the filter `room == "lobby"`: an item
  // of another room reaches the every-room page but not the lobby page. The
  // lobby item sent after it (same publisher, same order) proves the lobby
  // page would have had the kitchen item by then.
  test('an item of another room reaches only the page that follows every room', gw.wrap(async () => {
    const kitchen = 'The dishwasher is done';
    const next = 'Stand-up in five minutes';
    await addThroughForm(all, kitchen, 'kitchen');
    await addThroughForm(all, next, 'lobby');
    await waitItem(all, kitchen);
    await waitItem(all, next);
    await waitItem(lobby, next);
    assert.ok(!(await itemTitles(lobby)).includes(kitchen), 'the lobby page got a kitchen item');
  }));

  // Any save through the ORM publishes: here from `manage.py shell`, a
  // short-lived process that exits right after the commit.
  test('an item created in manage.py shell appears in both pages', gw.wrap(async () => {
    const title = 'Created in manage.py shell';
    await demo.shell(`from board.models import Item; Item.objects.create(title=${JSON.stringify(title)}, room="lobby")`);
    for (const page of [all, lobby]) await waitItem(page, title);
  }));

  // kill -9 of the edge (as a crash would), restart on the same port: each
  // page goes reconnecting -> open by itself (backoff with jitter), and the
  // first item created afterwards reaches both, by event.
  test('after kill -9 and restart of the edge the pages reconnect and receive the next item',
    { timeout: 90000 }, gw.wrap(async () => {
      await gw.killEdge(0);
      for (const page of [all, lobby]) await waitState(page, 'reconnecting');
      gw.restartEdge(0);
      await gw.waitEdgeHealthy(0);
      for (const page of [all, lobby]) {
        await waitState(page, 'open');
        const states = await page.evaluate(() => window.__states);
        const r = states.lastIndexOf('reconnecting');
        assert.ok(r >= 0 && states.indexOf('open', r) > r, `states went ${states.join(' -> ')}`);
      }
      const title = 'Back after the edge restart';
      await addThroughForm(lobby, title, 'lobby');
      for (const page of [all, lobby]) await waitItem(page, title);
    }));

  // The board's subscription is persistent: a tab closed while items are
  // added gets them, in publication order and each once, when the board is
  // opened again (a new tab of the same browser: same identity cookie).
  test('items added while the board was closed appear when it is opened again, in order, once',
    { timeout: 60000 }, gw.wrap(async () => {
      await all.waitForSelector('#subscription[data-status="live"]', { timeout: STATE_MS });
      assert.match(await all.textContent('#subscription'), /\(persistent\)/);
      await all.close();
      const titles = ['Missed one', 'Missed two', 'Missed three'];
      for (const title of titles) {
        await demo.shell(`from board.models import Item; Item.objects.create(title=${JSON.stringify(title)}, room="kitchen")`);
      }
      all = await context.newPage();
      all.on('pageerror', (e) => pageErrors.push(`${demo.url} (reopened): ${e.message}`));
      await all.goto(demo.url);
      await all.evaluate(STATE_LOG_SCRIPT);
      for (const title of titles) await waitItem(all, title);
      const shown = (await itemTitles(all)).filter((t) => titles.includes(t));
      assert.deepEqual(shown, [...titles].reverse(), 'newest first, each once');
    }));

  test('the board lists the event types from client.events() and logged no script error', gw.wrap(async () => {
    await all.waitForFunction(() => document.querySelectorAll('#event-types code').length >= 3, null,
      { timeout: DELIVERY_MS });
    const types = await all.$$eval('#event-types code', (els) => els.map((e) => e.textContent));
    for (const t of ['board.item.created', 'board.item.updated', 'board.item.deleted']) assert.ok(types.includes(t), t);
    assert.deepEqual(pageErrors, []);
  }));

  test('a screenshot of the board is saved in tests/browser/output/board.png', async () => {
    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
    await all.screenshot({ path: SCREENSHOT, fullPage: true, animations: 'disabled' });
    assert.ok(fs.statSync(SCREENSHOT).size > 1000);
    console.log(`browser: screenshot ${SCREENSHOT}`);
  });

  gw.stopTest(test);
});
