// Integration harness: starts the real gateway processes (router, ingest,
// edges) on free loopback ports, waits for them by condition with deadlines,
// and stops them by PID, failing the test when a process crashed, exited
// non-zero, or its sanitizer reported anything. The WAMP clients (AutobahnJS,
// wampy, raw ws) and the bounded waits live in wamp.mjs, re-exported here.
//
// Environment: TELEGRAPHY_BIN_DIR (default build-asan/bin, relative to the
// repository root) selects the binaries; TELEGRAPHY_KEEP_LOGS=1 keeps the
// temporary log directories.

import { spawn, execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RawWamp, waitFor, withTimeout } from './wamp.mjs';

export * from './wamp.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN_DIR = path.resolve(REPO_ROOT, process.env.TELEGRAPHY_BIN_DIR || 'build-asan/bin');
export const HEARTBEAT_MS = 200;

const SANITIZER_PATTERNS = [
  'ERROR: AddressSanitizer',
  'ERROR: LeakSanitizer',
  'runtime error:',
  'WARNING: ThreadSanitizer',
];

// ---------------------------------------------------------------- ports, http

// Free loopback ports: every listener stays open until all are chosen, so
// the ports are distinct.
export async function freePorts(count) {
  const servers = [];
  const ports = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
      ports.push(server.address().port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
  return ports;
}

export function httpGet(url, { timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

// Prometheus text -> [{name, labels, value}] (throws on a malformed line).
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`malformed Prometheus line: ${JSON.stringify(line)}`);
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad sample value: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: m[2] || '', value });
  }
  return samples;
}

// The shared stat name of a metric: telegraphy_edge_bad_input_total -> bad_input.
export function statName(metricName) {
  return metricName.replace(/^telegraphy_/, '').replace(/^edge_/, '').replace(/_total$/, '');
}

// Sum of the samples of one shared stat (any labels), or undefined if absent.
export function metricValue(samples, stat) {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (statName(s.name) === stat) {
      found = true;
      sum += s.value;
    }
  }
  return found ? sum : undefined;
}

// ---------------------------------------------------------------- processes

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
} catch {
  /* keep 100 */
}

// CPU seconds (user + system) a live process has used, from /proc/PID/stat.
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / clkTck;
}

const SANITIZER_ENV = {
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0',
  UBSAN_OPTIONS: 'print_stacktrace=1',
};

// Every child still running; SIGKILLed if the test process exits, so a
// failed test file never leaves gateway processes behind.
const LIVE = new Set();
process.on('exit', () => {
  for (const child of LIVE) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export class Proc {
  constructor(name, bin, args, logPath, env = {}) {
    this.name = name;
    this.bin = bin;
    this.args = args;
    this.logPath = logPath;
    this.env = env;
    this.child = null;
    this.exit = null; // {code, signal} of the last run
    this.problems = []; // unexpected exits and sanitizer reports
    this.killedByUs = false;
    this.logOffset = 0; // where the current run's log starts
  }

  get pid() {
    return this.child ? this.child.pid : undefined;
  }

  get running() {
    return this.child !== null && this.exit === null;
  }

  start() {
    if (!fs.existsSync(this.bin)) throw new Error(`${this.bin} is missing (build it: make SAN=1 -j2)`);
    this.logOffset = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
    const fd = fs.openSync(this.logPath, 'a');
    fs.writeSync(fd, `=== ${new Date().toISOString()} start: ${this.bin} ${this.args.join(' ')}\n`);
    this.exit = null;
    this.killedByUs = false;
    this.child = spawn(this.bin, this.args, {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...SANITIZER_ENV, ...this.env },
    });
    fs.closeSync(fd);
    const child = this.child;
    LIVE.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        LIVE.delete(child);
        this.exit = { code, signal };
        if (!this.killedByUs && !this.stopping) {
          this.problems.push(`${this.name} exited on its own: code=${code} signal=${signal}`);
        }
        resolve(this.exit);
      });
      // No 'exit' follows a failed spawn (e.g. the binary is being relinked).
      child.once('error', (e) => {
        if (child.pid !== undefined) return;
        LIVE.delete(child);
        this.exit = { code: null, signal: null, error: e.message };
        this.problems.push(`${this.name}: spawn failed: ${e.message}`);
        resolve(this.exit);
      });
    });
    return this;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  // The current run's part of the log (since the last start()).
  runLog() {
    const log = this.log();
    return Buffer.from(log, 'utf8').subarray(this.logOffset).toString('utf8');
  }

  // The instance id this run announced in its log ("instance=ID" on an
  // info line at start: the ingest's "listening", the edge's "router link"),
  // or undefined while it has not logged it yet.
  instanceId() {
    const m = / instance=(\S+)/.exec(this.runLog());
    return m ? m[1] : undefined;
  }

  // Waits for the instance id of the current run (see instanceId).
  async waitInstanceId(timeoutMs = 10000) {
    return waitFor(`${this.name} to log its instance id`, () => {
      if (!this.running) {
        const e = new Error(`${this.name} is not running (exit ${JSON.stringify(this.exit)})`);
        e.fatal = true;
        throw e;
      }
      return this.instanceId();
    }, { timeoutMs, intervalMs: 20 });
  }

  logTail(lines = 40) {
    return this.log().split('\n').slice(-lines).join('\n');
  }

  checkSanitizers() {
    const log = this.log();
    for (const p of SANITIZER_PATTERNS) {
      if (log.includes(p)) {
        const at = log.indexOf(p);
        const problem = `${this.name}: sanitizer report "${p}": ${log.slice(Math.max(0, at - 200), at + 1500)}`;
        if (!this.problems.some((x) => x.startsWith(`${this.name}: sanitizer report "${p}"`))) {
          this.problems.push(problem);
        }
      }
    }
  }

  // kill -9, as a crash would; the exit is expected and not a problem.
  async kill9() {
    if (!this.running) return;
    this.killedByUs = true;
    process.kill(this.child.pid, 'SIGKILL');
    await withTimeout(this.exited, 5000, `${this.name} to die after SIGKILL`);
  }

  // SIGTERM, then SIGKILL after the deadline. A clean stop is exit code 0.
  async stop(deadlineMs = 15000) {
    if (!this.running) return;
    this.stopping = true;
    process.kill(this.child.pid, 'SIGTERM');
    try {
      await withTimeout(this.exited, deadlineMs, `${this.name} to exit after SIGTERM`);
    } catch {
      this.problems.push(`${this.name} did not exit within ${deadlineMs} ms of SIGTERM; killed`);
      this.killedByUs = true;
      process.kill(this.child.pid, 'SIGKILL');
      await withTimeout(this.exited, 5000, `${this.name} to die after SIGKILL`);
    } finally {
      this.stopping = false;
    }
    if (!this.killedByUs && (this.exit.code !== 0 || this.exit.signal)) {
      this.problems.push(`${this.name} exited with code=${this.exit.code} signal=${this.exit.signal} after SIGTERM`);
    }
  }
}

// ---------------------------------------------------------------- ctl

export function runCtl(bin, env, args, { timeoutMs = 20000 } = {}) {
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { env: { ...process.env, ...SANITIZER_ENV, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error) code = typeof error.code === 'number' ? error.code : null;
        resolve({ code, signal: error && error.signal, stdout, stderr });
      },
    );
  });
}

// A long-running telegraphy-ctl (monitor, tap, status --watch): its stdout
// is collected line by line as it comes; stopped by its PID (SIGINT, as
// Ctrl-C, then SIGKILL after a deadline). Killed with the test process.
export class CtlChild {
  constructor(bin, env, args) {
    this.args = args;
    this.lines = [];
    this.stderr = '';
    this.exit = null;
    this.child = spawn(bin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...SANITIZER_ENV, ...env },
    });
    const child = this.child;
    LIVE.add(child);
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop();
      this.lines.push(...parts);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      if (this.stderr.length < 1 << 20) this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        LIVE.delete(child);
        if (partial) this.lines.push(partial);
        partial = '';
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', (e) => {
        if (child.pid !== undefined) return;
        LIVE.delete(child);
        this.exit = { code: null, signal: null, error: e.message };
        resolve(this.exit);
      });
    });
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.exit === null;
  }

  // The stdout lines (or `lines`) parsed as JSON; lines that are not JSON
  // are skipped.
  json(lines = this.lines) {
    const out = [];
    for (const line of lines) {
      try {
        out.push(JSON.parse(line));
      } catch {
        /* not a JSON line */
      }
    }
    return out;
  }

  // SIGINT (what Ctrl-C sends), then SIGKILL after the deadline -> {code, signal}.
  async stop(deadlineMs = 5000) {
    if (this.exit !== null) return this.exit;
    this.child.kill('SIGINT');
    try {
      await withTimeout(this.exited, deadlineMs, `telegraphy-ctl ${this.args[0]} to exit after SIGINT`);
    } catch {
      this.child.kill('SIGKILL');
      await withTimeout(this.exited, 5000, `telegraphy-ctl ${this.args[0]} to die after SIGKILL`);
      this.killed = true;
    }
    return this.exit;
  }
}

// `telegraphy-ctl status --json` -> [{role, instance, stats: {name: value}, raw}].
// Accepts an array of processes or an object with `processes` (and an
// optional `router` entry), stats as an object or [{name, value}].
export function normalizeStatus(json) {
  let list = [];
  if (Array.isArray(json)) list = json;
  else if (json && typeof json === 'object') {
    list = json.processes || json.peers || [];
    if (json.router && typeof json.router === 'object' && !list.some((p) => p.role === 'router')) {
      list = [{ role: 'router', ...json.router }, ...list];
    }
  }
  return list.map((p) => {
    let stats = p.stats || {};
    if (Array.isArray(stats)) stats = Object.fromEntries(stats.map((s) => [s.name, Number(s.value)]));
    return { role: p.role, instance: p.instance, stats, raw: p };
  });
}

// ---------------------------------------------------------------- gateway

let gatewaySerial = 0;

// ---------------------------------------------------------------- PostgreSQL

// psql: Debian's client wrapper, or the server package's own binary.
export const PSQL = ['/usr/bin/psql', '/usr/lib/postgresql/15/bin/psql'].find((p) => fs.existsSync(p)) || 'psql';

// The PostgreSQL of the test run (scripts/test.sh starts one cluster per
// `make test`; by hand: `scripts/pg.sh start DIR PORT` prints the URL). A
// test that needs it FAILS when it is unset: persistence is not optional.
export function testDatabaseUrl() {
  const url = process.env.TELEGRAPHY_TEST_DATABASE_URL;
  if (!url) {
    throw new Error('TELEGRAPHY_TEST_DATABASE_URL is unset: a gateway with persist needs a real PostgreSQL. '
      + 'Run through `make test`, or: D=$(mktemp -d); export TELEGRAPHY_TEST_DATABASE_URL=$(scripts/pg.sh start $D 5999)');
  }
  return url;
}

// `url` naming database `name` instead (same host, port, user).
export function databaseUrlFor(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

// Runs one SQL command with psql on the database `url` names -> stdout
// (unaligned, tuples only) trimmed. Throws with psql's stderr on failure.
export function psql(url, sql) {
  return execFileSync(PSQL, ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30000,
  }).trim();
}

export class Gateway {
  // edges: number of edges; edgeArgs: extra flags for every edge (or a
  // function of the edge index); routerArgs/ingestArgs/persistArgs: extra
  // flags. secret: TELEGRAPHY_SECRET for the edges (--secret) and for ctl
  // (env).
  // persist: true also runs telegraphy-persist on a database of its own,
  // made fresh on TELEGRAPHY_TEST_DATABASE_URL's server at start (`psql`,
  // CREATE DATABASE) and dropped at stop; start() waits until `ctl status`
  // lists the persist. With the variable unset, start() throws (the test
  // fails, saying so). gw.databaseUrl names that database, gw.sql(text)
  // runs a query on it (-> psql's output), gw.persist is its Proc
  // (killPersist / restartPersist as for the others).
  constructor({ name = 'gw', edges = 1, edgeArgs = [], routerArgs = [], ingestArgs = [], secret = null,
    persist = false, persistArgs = [] } = {}) {
    this.name = `${name}-${process.pid}-${++gatewaySerial}`;
    this.secret = secret;
    this.withPersist = persist;
    this.persistArgs = persistArgs;
    this.edgeCount = edges;
    this.edgeArgs = edgeArgs;
    this.routerArgs = routerArgs;
    this.ingestArgs = ingestArgs;
    this.procs = [];
    this.edges = [];
    this.clients = new Set();
  }

  bin(service) {
    return path.join(BIN_DIR, `telegraphy-${service}`);
  }

  get routerEndpoint() {
    return `tcp://127.0.0.1:${this.ports.router}`;
  }
  get controlEndpoint() {
    return `tcp://127.0.0.1:${this.ports.control}`;
  }
  get ingestEndpoint() {
    return `tcp://127.0.0.1:${this.ports.ingest}`;
  }
  get monitorEndpoint() {
    return `tcp://127.0.0.1:${this.ports.monitor}`;
  }
  get ingestAckEndpoint() {
    return `tcp://127.0.0.1:${this.ports.ingestAck}`;
  }
  edgeUrl(i = 0) {
    return `ws://127.0.0.1:${this.ports.edges[i]}/ws`;
  }
  httpBase(i = 0) {
    return `http://127.0.0.1:${this.ports.edges[i]}`;
  }

  async start() {
    this.logDir = fs.mkdtempSync(path.join(os.tmpdir(), `telegraphy-it-${this.name}-`));
    const [router, control, ingest, ingestAck, monitor, ...edges] = await freePorts(5 + this.edgeCount);
    this.ports = { router, control, ingest, ingestAck, monitor, edges };
    const hb = ['--heartbeat-ms', String(HEARTBEAT_MS)];
    this.router = new Proc(
      'router',
      this.bin('router'),
      [
        '--router', this.routerEndpoint, '--control', this.controlEndpoint,
        // Every gateway gets its own monitor port (unless a test names one), so
        // tests never collide with each other or with a running `make run`.
        ...(this.routerArgs.includes('--monitor') ? [] : ['--monitor', this.monitorEndpoint]),
        ...hb, ...this.routerArgs,
      ],
      path.join(this.logDir, 'router.log'),
    );
    this.ingest = new Proc(
      'ingest',
      this.bin('ingest'),
      [
        '--ingest', this.ingestEndpoint,
        '--ingest-ack', this.ingestAckEndpoint,
        '--router', this.routerEndpoint,
        ...hb,
        ...this.ingestArgs,
      ],
      path.join(this.logDir, 'ingest.log'),
    );
    this.procs.push(this.router, this.ingest);
    if (this.withPersist) {
      const base = testDatabaseUrl();
      this.databaseName = `tg_it_${process.pid}_${gatewaySerial}_${Date.now() % 100000}`;
      psql(base, `CREATE DATABASE ${this.databaseName}`);
      this.databaseUrl = databaseUrlFor(base, this.databaseName);
      this.databaseBase = base;
      this.persist = new Proc(
        'persist',
        this.bin('persist'),
        ['--router', this.routerEndpoint, '--database-url', this.databaseUrl, ...hb, ...this.persistArgs],
        path.join(this.logDir, 'persist.log'),
      );
      this.procs.push(this.persist);
    }
    for (let i = 0; i < this.edgeCount; i++) {
      const extra = typeof this.edgeArgs === 'function' ? this.edgeArgs(i) : this.edgeArgs;
      const edge = new Proc(
        `edge${i}`,
        this.bin('edge'),
        ['--router', this.routerEndpoint, '--port', String(edges[i]), '--host', '127.0.0.1', ...hb,
          ...(this.secret ? ['--secret', this.secret] : []), ...extra],
        path.join(this.logDir, `edge${i}.log`),
      );
      this.edges.push(edge);
      this.procs.push(edge);
    }
    try {
      this.router.start();
      this.ingest.start();
      if (this.persist) this.persist.start();
      for (const e of this.edges) e.start();
      await this.waitReady();
    } catch (e) {
      e.message += this.logReport();
      await this.stop().catch(() => {});
      throw e;
    }
    return this;
  }

  assertAlive() {
    for (const p of this.procs) {
      if (!p.running && !p.killedByUs) {
        const e = new Error(`${p.name} is not running (exit ${JSON.stringify(p.exit)})`);
        e.fatal = true;
        throw e;
      }
    }
  }

  // Edge /healthz says 200 (and, if its body names the router, connected).
  async edgeHealthy(i) {
    const r = await httpGet(`${this.httpBase(i)}/healthz`);
    if (r.status !== 200) return false;
    const body = r.body.toLowerCase();
    if (body.includes('router')) {
      try {
        const j = JSON.parse(r.body);
        const v = j.router ?? j.router_connected;
        if (v !== undefined) return v === true || v === 'connected' || v?.connected === true;
      } catch {
        /* plain text */
      }
      return /router\W+(connected|up|ok|true)\b/.test(body) && !/disconnected|not connected/.test(body);
    }
    return true;
  }

  // Every process is up: each edge's /healthz is 200 with the router
  // connected, and the router's status lists the ingest, every edge and,
  // with persist, a persist.
  async waitReady({ timeoutMs = 20000 } = {}) {
    await waitFor(
      `router, ingest, edges${this.persist ? ', persist' : ''} to be ready (healthz + ctl status)`,
      async () => {
        this.assertAlive();
        for (let i = 0; i < this.edgeCount; i++) if (!(await this.edgeHealthy(i))) return false;
        const status = await this.status();
        if (!status) return false;
        const ingests = status.filter((p) => p.role === 'ingest').length;
        const edgeCount = status.filter((p) => p.role === 'edge').length;
        const persists = status.filter((p) => p.role === 'persist').length;
        return ingests >= 1 && edgeCount >= this.edgeCount && (!this.persist || persists >= 1);
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  ctlEnv() {
    return {
      TELEGRAPHY_CONTROL: this.controlEndpoint,
      TELEGRAPHY_INGEST_ACK: this.ingestAckEndpoint,
      TELEGRAPHY_INGEST: this.ingestEndpoint,
      TELEGRAPHY_MONITOR: this.monitorEndpoint,
      TELEGRAPHY_ROUTER: this.routerEndpoint,
      TELEGRAPHY_TIMEOUT_MS: '3000',
      ...(this.secret ? { TELEGRAPHY_SECRET: this.secret } : {}),
    };
  }

  // telegraphy-ctl with this gateway's endpoints -> {code, signal, stdout, stderr}.
  ctl(args, opts) {
    return runCtl(this.bin('ctl'), this.ctlEnv(), args, opts);
  }

  // A long-running telegraphy-ctl with this gateway's endpoints (plus
  // `env`), e.g. spawnCtl(['monitor', '--json']); see CtlChild.
  spawnCtl(args, env = {}) {
    return new CtlChild(this.bin('ctl'), { ...this.ctlEnv(), ...env }, args);
  }

  // Normalized `status --json`, or null when ctl failed.
  async status() {
    const r = await this.ctl(['status', '--json'], { timeoutMs: 10000 });
    if (r.code !== 0) return null;
    return normalizeStatus(JSON.parse(r.stdout));
  }

  // Registers an event type; retries until the router knows it (ctl exit 0).
  async register(name, flags = [], { timeoutMs = 15000 } = {}) {
    let last;
    await waitFor(
      `telegraphy-ctl register ${name} to succeed`,
      async () => {
        last = await this.ctl(['register', name, ...flags]);
        return last.code === 0;
      },
      { timeoutMs, intervalMs: 200 },
    ).catch((e) => {
      e.message += `\nlast ctl: code=${last?.code} stdout=${last?.stdout} stderr=${last?.stderr}`;
      throw e;
    });
    return last;
  }

  // Publishes once: `telegraphy-ctl publish NAME --kwargs JSON`. kwargsJson
  // is JSON text (so 64-bit integers stay exact) or a value to stringify.
  publishOnce(name, kwargsJson, extra = []) {
    const text = typeof kwargsJson === 'string' ? kwargsJson : JSON.stringify(kwargsJson);
    return this.ctl(['publish', name, '--kwargs', text, ...extra]);
  }

  // Publishes and requires acceptance (exit 0) on the first try.
  async publish(name, kwargsJson, extra = []) {
    const r = await this.publishOnce(name, kwargsJson, extra);
    if (r.code !== 0) {
      throw new Error(`telegraphy-ctl publish ${name} failed: code=${r.code} stdout=${r.stdout} stderr=${r.stderr}`);
    }
    return r;
  }

  // Every edge answers telegraphy.events.list with all `names` (the edges
  // learn registered types from the router asynchronously).
  async waitEventTypes(names, { timeoutMs = 15000 } = {}) {
    for (let i = 0; i < this.edgeCount; i++) {
      await waitFor(
        `edge${i} to list event types ${names.join(', ')}`,
        async () => {
          const c = await RawWamp.open(this.edgeUrl(i));
          try {
            await c.hello();
            const list = await c.call('telegraphy.events.list');
            const have = new Set((list.args?.[0] || []).map((t) => t.name));
            return names.every((n) => have.has(n));
          } finally {
            c.terminate();
          }
        },
        { timeoutMs, intervalMs: 100 },
      );
    }
  }

  // The usual `before` of a suite: starts the gateway, registers each of
  // `names` (no flags) and waits until every edge lists them all.
  async startWithTypes(names) {
    await this.start();
    for (const name of names) await this.register(name);
    await this.waitEventTypes(names);
  }

  // Waits until every edge accepts a fresh ws token: a router fails token
  // spends closed for 3 heartbeat intervals after it starts (docs/security.md),
  // so the first ticket sessions of a fresh gateway would be refused.
  async waitTicketAuth({ timeoutMs = 15000 } = {}) {
    if (!this.secret) throw new Error('waitTicketAuth: this gateway has no secret');
    for (let i = 0; i < this.edgeCount; i++) {
      await waitFor(`edge${i} to accept a ws token (the router's start-up window to pass)`, async () => {
        this.assertAlive();
        const token = mintToken(this.secret, {
          typ: 'ws', sub: 'harness-probe', grp: [], exp: Math.floor(Date.now() / 1000) + 60, jti: newJti(),
        });
        const c = await RawWamp.open(this.edgeUrl(i));
        try {
          await c.helloTicket(token);
          return true;
        } catch {
          return false;
        } finally {
          c.terminate();
        }
      }, { timeoutMs, intervalMs: 100 });
    }
  }

  async metrics(i = 0) {
    const r = await httpGet(`${this.httpBase(i)}/metrics`);
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    return parsePrometheus(r.body);
  }

  async killRouter() {
    await this.router.kill9();
  }

  async restartRouter() {
    this.router.start();
  }

  async killIngest() {
    await this.ingest.kill9();
  }

  // Same flags, same ports as before.
  restartIngest() {
    this.ingest.start();
  }

  async killPersist() {
    await this.persist.kill9();
  }

  // Same flags, same database as before.
  restartPersist() {
    this.persist.start();
  }

  // Waits until `ctl status` lists a persist with its database ready
  // (stats db_ready = 1) whose instance is not `notInstance`.
  async waitPersist({ notInstance, timeoutMs = 20000 } = {}) {
    return waitFor('ctl status to list a persist with its database ready', async () => {
      this.assertAlive();
      const status = await this.status();
      const p = status?.find((x) => x.role === 'persist' && x.instance !== notInstance && x.stats.db_ready === 1);
      return p || false;
    }, { timeoutMs, intervalMs: 100 });
  }

  // One SQL command on persist's database -> psql's output (tuples only).
  sql(text) {
    if (!this.databaseUrl) throw new Error('sql(): this gateway runs without persist');
    return psql(this.databaseUrl, text);
  }

  async killEdge(i) {
    await this.edges[i].kill9();
  }

  // Same flags, same port as before.
  restartEdge(i) {
    this.edges[i].start();
  }

  // Waits until edge i answers /healthz with the router connected.
  async waitEdgeHealthy(i, { timeoutMs = 15000 } = {}) {
    await waitFor(`edge${i} /healthz with the router connected`, async () => {
      this.assertAlive();
      return this.edgeHealthy(i);
    }, { timeoutMs, intervalMs: 50 });
  }

  // Publishes `count` events of `topic` through the ingest's acknowledged
  // path (a python3-zmq DEALER, as telegraphy-ctl speaks it, but one
  // process for the whole burst): bodies {seq, pad} with seq from `first`
  // and pad a string of padBytes; at most `window` requests in flight, in
  // order on one connection. Resolves {accepted, rejected: [{seq, error,
  // message}], pubIds} once every request is answered; rejects if the
  // script fails or a reply is missing after its deadline.
  async publishBurst(topic, count, { first = 0, padBytes = 0, window = 64, timeoutMs = 60000 } = {}) {
    const args = ['-c', PUBLISH_BURST_PY, this.ingestAckEndpoint, topic, String(count), String(first),
      String(padBytes), String(window), String(timeoutMs)];
    const r = await new Promise((resolve) => {
      execFile(PYTHON, args, { timeout: timeoutMs + 10000, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
        resolve({ error, stdout, stderr }));
    });
    if (r.error) {
      throw new Error(`publish burst of ${count} ${topic} failed: ${r.error.message}\nstdout=${r.stdout}\nstderr=${r.stderr}`);
    }
    return JSON.parse(r.stdout);
  }

  track(client) {
    this.clients.add(client);
    return client;
  }

  logReport(lines = 60) {
    if (!this.logDir) return '';
    let out = `\n--- gateway ${this.name} logs (${this.logDir}) ---`;
    for (const p of this.procs) {
      out += `\n--- ${p.name} (pid ${p.pid}, exit ${JSON.stringify(p.exit)}) last ${lines} lines:\n${p.logTail(lines)}`;
    }
    return out;
  }

  // Closes tracked clients, stops every process (SIGTERM, SIGKILL after a
  // deadline) and throws if any process misbehaved or a sanitizer spoke.
  // Idempotent: a second call does nothing (the first one reported).
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await this.closeClients();
    // Edges first, then ingest, then router: the reverse of the data flow.
    const problems = [];
    for (const p of [...this.edges, this.ingest, this.persist, this.router]) {
      try {
        if (p) await p.stop();
      } catch (e) {
        problems.push(`${p.name}: stop failed: ${e.message}`);
      }
    }
    if (this.databaseName) {
      try {
        psql(this.databaseBase, `DROP DATABASE IF EXISTS ${this.databaseName} WITH (FORCE)`);
      } catch (e) {
        problems.push(`dropping database ${this.databaseName} failed: ${e.message}`);
      }
    }
    for (const p of this.procs) {
      p.checkSanitizers();
      problems.push(...p.problems);
    }
    if (problems.length) {
      const err = new Error(`gateway ${this.name} misbehaved:\n${problems.join('\n')}${this.logReport()}`);
      throw err;
    }
    if (this.logDir && !process.env.TELEGRAPHY_KEEP_LOGS) {
      fs.rmSync(this.logDir, { recursive: true, force: true });
    }
  }

  async closeClients() {
    const clients = [...this.clients];
    this.clients.clear();
    await Promise.all(
      clients.map((c) => withTimeout(Promise.resolve().then(() => c.close()), 3000, 'client close').catch(() => {})),
    );
  }

  // The last test of a file: stopping the gateway is a test of its own, so
  // an unclean exit or a sanitizer report counts as a failed test.
  stopTest(test) {
    test('gateway processes stop cleanly on SIGTERM (exit 0, no sanitizer report)', { timeout: 60000 }, async () => {
      await this.stop();
    });
  }

  // Wraps a test body: closes the clients it opened (gw.track), fails it
  // when a process misbehaved, and appends the processes' logs to its error.
  wrap(fn) {
    return async (t) => {
      try {
        try {
          await fn(t);
        } finally {
          await this.closeClients();
        }
        for (const p of this.procs) {
          p.checkSanitizers();
          if (p.problems.length) throw new Error(`process problems:\n${p.problems.join('\n')}`);
        }
      } catch (e) {
        if (e && typeof e === 'object') {
          try {
            e.message += this.logReport();
          } catch {
            /* keep the original error */
          }
        }
        throw e;
      }
    };
  }
}

// ---------------------------------------------------------------- tokens

// A v1 token (DESIGN §2.4) over an arbitrary payload part (text, used as
// is: lets a test sign malformed base64url or JSON with a valid MAC).
export function signTokenPart(secret, payloadPart) {
  const mac = crypto.createHmac('sha256', secret).update(`v1.${payloadPart}`).digest('base64url');
  return `v1.${payloadPart}.${mac}`;
}

// A v1 token for a payload object (compact JSON, as Django writes it).
export function mintToken(secret, payload) {
  return signTokenPart(secret, Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url'));
}

// The payload of a v1 token, decoded without verifying (for assertions).
export function tokenPayload(token) {
  return JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8'));
}

// A random jti (16 bytes, base64url).
export function newJti() {
  return crypto.randomBytes(16).toString('base64url');
}

// Python for helper scripts: Debian's (python3-zmq), not the first on PATH.
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// The burst publisher behind Gateway.publishBurst (docs/protocol.md:
// PUBLISH {v, req, topic} + msgpack body to the ingest's ack ROUTER socket,
// answered by ACCEPTED {req, pub_id} or REJECTED {req, error, message}).
// argv: endpoint topic count first pad_bytes window timeout_ms.
// Prints {"accepted": N, "rejected": [...], "pubIds": [...]} as JSON.
const PUBLISH_BURST_PY = `
import json, sys, time
import msgpack, zmq
ep, topic, count, first, pad, window, timeout_ms = sys.argv[1:8]
count, first, pad, window, timeout_ms = int(count), int(first), int(pad), int(window), int(timeout_ms)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(ep)
pack = lambda o: msgpack.packb(o, use_bin_type=True)
padding = "x" * pad
deadline = time.monotonic() + timeout_ms / 1000.0
sent = answered = 0
accepted, rejected, pub_ids = 0, [], []
while answered < count:
    while sent < count and sent - answered < window:
        seq = first + sent
        s.send_multipart([b"PUBLISH", pack({"v": 1, "req": sent + 1, "topic": topic}), pack({"seq": seq, "pad": padding})])
        sent += 1
    left = deadline - time.monotonic()
    if left <= 0 or not s.poll(int(left * 1000) + 1):
        sys.exit("timed out: %d of %d answered" % (answered, count))
    frames = s.recv_multipart()
    head = msgpack.unpackb(frames[1], raw=False) if len(frames) > 1 else {}
    answered += 1
    if frames[0] == b"ACCEPTED":
        accepted += 1
        pub_ids.append(head.get("pub_id"))
    else:
        rejected.append({"seq": first + int(head.get("req", 0)) - 1, "command": frames[0].decode("utf-8", "replace"),
                         "error": head.get("error"), "message": head.get("message")})
s.close()
ctx.term()
print(json.dumps({"accepted": accepted, "rejected": rejected, "pubIds": pub_ids}))
`;
