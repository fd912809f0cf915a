// A persistent subscription across page loads in headless Chromium
// (DESIGN §2.3, §2.4, §2.6): a page served from the gateway's own host name
// (an allowed Origin by default: 127.0.0.1, another port) connects
// anonymously; the edge keeps the browser's client_id in its HttpOnly
// telegraphy_resume cookie, so the page may subscribe persistently. The tab
// is closed, guaranteed items are published, a new tab of the same browser
// opens the page again: the missed items appear, in order, once, marked as
// replayed, then live ones. Real router, ingest, edge and persist on
// TELEGRAPHY_TEST_DATABASE_URL's PostgreSQL (unset: the test fails).
//
// Chromium: Debian's /usr/bin/chromium (TELEGRAPHY_CHROMIUM), driven by
// playwright-core, headless, fresh profile in a temporary --user-data-dir.
// The page is served by a small static server in this process (the page,
// telegraphy.js and autobahn.min.js, nothing else).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { Gateway, REPO_ROOT, freePorts, waitFor } from '../integration/harness.mjs';

const CHROMIUM = process.env.TELEGRAPHY_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];
const STATIC_DIR = path.join(REPO_ROOT, 'django_telegraphy', 'static', 'telegraphy');
const TOPIC = 'browser.order.shipped'; // --guaranteed
const DELIVERY_MS = 10000;

// The page: connects anonymously to the gateway named in ?ws=, subscribes
// persistently, lists every delivery as <li data-pub data-replay>n</li>.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>orders</title>
<script src="/static/telegraphy/autobahn.min.js"></script></head>
<body><p id="state">loading</p><p id="sub">waiting</p><ol id="items"></ol>
<script type="module">
  import { Telegraphy } from "/static/telegraphy/telegraphy.js";
  const url = new URLSearchParams(location.search).get("ws");
  const client = Telegraphy.connect({ url, reconnect: { initialDelay: 0.05, maxDelay: 0.5 } });
  window.__client = client;
  client.onstate((s) => (document.getElementById("state").textContent = s));
  client.subscribe(${JSON.stringify(TOPIC)}, (data, info) => {
    const li = document.createElement("li");
    li.textContent = String(data.n);
    li.dataset.pub = String(info.publication);
    li.dataset.replay = String(info.replay);
    document.getElementById("items").append(li);
  }, { persistent: true }).then(
    () => (document.getElementById("sub").textContent = "live"),
    (e) => (document.getElementById("sub").textContent = "error " + e.uri),
  );
</script></body></html>`;

// Serves PAGE at / and two files of the static folder; 404 otherwise.
function startSite(port) {
  const files = { '/static/telegraphy/telegraphy.js': 'telegraphy.js', '/static/telegraphy/autobahn.min.js': 'autobahn.min.js' };
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else if (files[pathname]) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(fs.readFileSync(path.join(STATIC_DIR, files[pathname])));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// The items on a page as {n, pub, replay}.
function items(page) {
  return page.$$eval('#items li', (els) => els.map((e) => ({ n: e.textContent, pub: Number(e.dataset.pub), replay: e.dataset.replay === 'true' })));
}

describe('a persistent subscription across page loads in Chromium', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing` }, () => {
  // A secret: the identity cookie holds a signed token.
  const gw = new Gateway({ name: 'reload', persist: true, secret: 'browser-reload-secret-0123456789abcdef-0123' });
  let site;
  let siteUrl;
  let profileDir;
  let context;
  const pageErrors = [];

  before(async () => {
    if (!fs.existsSync(path.join(STATIC_DIR, 'autobahn.min.js'))) throw new Error(`${STATIC_DIR}/autobahn.min.js is missing: run 'make static'`);
    await gw.start();
    await gw.register(TOPIC, ['--guaranteed']);
    await gw.waitEventTypes([TOPIC]);
    const [port] = await freePorts(1);
    site = await startSite(port);
    // Same host name as the gateway, another port: an allowed Origin.
    siteUrl = `http://127.0.0.1:${port}/?ws=${encodeURIComponent(gw.edgeUrl(0))}`;
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'telegraphy-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  }, { timeout: 90000 });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
    if (site) await new Promise((resolve) => site.close(resolve));
    await gw.stop().catch(() => {});
  });

  async function openPage() {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(siteUrl);
    await page.waitForFunction(() => document.getElementById('sub')?.textContent !== 'waiting', null, { timeout: DELIVERY_MS });
    assert.equal(await page.textContent('#sub'), 'live', 'the persistent subscription is accepted');
    return page;
  }

  const clientId = (page) => page.evaluate(() => window.__client.session?.authextra?.client_id ?? null);
  const owedRows = (cid) => Number(gw.sql(
    `SELECT count(*) FROM telegraphy_deliveries d JOIN telegraphy_subscriptions s USING (sub_key) WHERE s.client_id = '${cid}'`));

  // The property: items published while no tab of the browser is open reach
  // the next tab that opens the page, in publication order, each once, marked
  // replayed; what the closed tab had already acked does not come again; live
  // items follow.
  test('items published while the tab was closed appear in order, once, when the page is opened again',
    { timeout: 90000 }, gw.wrap(async () => {
      const first = await openPage();
      const cid = await clientId(first);
      assert.ok(cid, 'an anonymous page of an allowed origin has a client id (the identity cookie)');
      const cookies = await context.cookies(gw.httpBase(0));
      assert.ok(cookies.some((c) => c.name === 'telegraphy_resume' && c.httpOnly), 'the edge set its HttpOnly cookie');

      await gw.publish(TOPIC, { n: 1 });
      await first.waitForFunction(() => document.querySelectorAll('#items li').length === 1, null, { timeout: DELIVERY_MS });
      assert.deepEqual((await items(first)).map((i) => [i.n, i.replay]), [['1', false]]);
      await waitFor('the page\'s ack to reach the store', () => owedRows(cid) === 0, { timeoutMs: 10000, intervalMs: 50 });
      await first.close();

      const missed = [];
      for (let n = 2; n <= 4; n++) missed.push(Number(JSON.parse((await gw.publish(TOPIC, { n }, ['--json'])).stdout).pub_id));
      assert.equal(owedRows(cid), 3, 'kept for the browser while no tab is open');

      const again = await openPage();
      assert.equal(await clientId(again), cid, 'the same browser, the same client id');
      await again.waitForFunction(() => document.querySelectorAll('#items li').length >= 3, null, { timeout: DELIVERY_MS });
      await gw.publish(TOPIC, { n: 5 });
      await again.waitForFunction(() => document.querySelectorAll('#items li').length >= 4, null, { timeout: DELIVERY_MS });
      const shown = await items(again);
      assert.deepEqual(shown.map((i) => i.n), ['2', '3', '4', '5'], 'the missed items in order, once, then the live one');
      assert.deepEqual(shown.slice(0, 3).map((i) => i.pub), missed);
      assert.deepEqual(shown.map((i) => i.replay), [true, true, true, false]);
      await waitFor('every row acked', () => owedRows(cid) === 0, { timeoutMs: 10000, intervalMs: 50 });
      assert.deepEqual(pageErrors, []);
    }));

  gw.stopTest(test);
});
