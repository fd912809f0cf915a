// The demo site (demo/) for the browser tests: a temporary SQLite database,
// `manage.py migrate`, then `manage.py runserver --noreload` on a free
// loopback port, configured through environment variables to publish to a
// test Gateway (tests/integration/harness.mjs) and to hand its pages the
// gateway's WebSocket URL. Waited on by condition, stopped by PID.

import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

import { REPO_ROOT, PYTHON, freePorts, httpGet, waitFor, withTimeout } from '../integration/harness.mjs';

const MANAGE = path.join(REPO_ROOT, 'demo', 'manage.py');

export class DemoSite {
  constructor(gateway) {
    this.gateway = gateway;
    this.child = null;
    this.exit = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}/`;
  }

  env() {
    const gw = this.gateway;
    return {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      DEMO_DATABASE: path.join(this.dir, 'demo.sqlite3'),
      DEMO_SECRET_KEY: this.secretKey,
      TELEGRAPHY_SECRET: this.secret,
      TELEGRAPHY_INGEST: gw.ingestEndpoint,
      TELEGRAPHY_INGEST_ACK: gw.ingestAckEndpoint,
      TELEGRAPHY_WS_URL: gw.edgeUrl(0),
    };
  }

  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telegraphy-demo-'));
    this.logPath = path.join(this.dir, 'runserver.log');
    // The gateway's secret when it has one: the demo's tokens and the edge's
    // identity cookie are then signed alike.
    this.secret = this.gateway.secret || crypto.randomBytes(32).toString('hex');
    this.secretKey = crypto.randomBytes(32).toString('hex');
    [this.port] = await freePorts(1);
    const migrate = await this.manage(['migrate', '--noinput', '-v', '0']);
    if (migrate.code !== 0) throw new Error(`manage.py migrate failed: ${migrate.stderr}${migrate.stdout}`);
    const fd = fs.openSync(this.logPath, 'a');
    this.child = spawn(PYTHON, [MANAGE, 'runserver', '--noreload', `127.0.0.1:${this.port}`], {
      stdio: ['ignore', fd, fd],
      env: this.env(),
    });
    fs.closeSync(fd);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve((this.exit = { code, signal })));
    });
    await waitFor('the demo site to answer GET /', async () => {
      if (this.exit) {
        const e = new Error(`runserver exited ${JSON.stringify(this.exit)}:\n${this.log()}`);
        e.fatal = true;
        throw e;
      }
      const r = await httpGet(this.url, { timeoutMs: 2000 });
      return r.status === 200;
    }, { timeoutMs: 30000, intervalMs: 100 });
    return this;
  }

  // `manage.py ARGS` with the demo's environment -> {code, stdout, stderr}.
  manage(args, { timeoutMs = 60000 } = {}) {
    return new Promise((resolve) => {
      execFile(PYTHON, [MANAGE, ...args], { env: this.env(), timeout: timeoutMs }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  }

  // Runs Python in `manage.py shell -c` (Django set up, demo settings).
  async shell(code) {
    const r = await this.manage(['shell', '-c', code]);
    if (r.code !== 0) throw new Error(`manage.py shell failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  // SIGTERM by PID (runserver --noreload is one process), SIGKILL after 5 s.
  async stop() {
    if (this.child && !this.exit) {
      this.child.kill('SIGTERM');
      try {
        await withTimeout(this.exited, 5000, 'runserver to exit after SIGTERM');
      } catch {
        this.child.kill('SIGKILL');
        await withTimeout(this.exited, 5000, 'runserver to die after SIGKILL');
      }
    }
    if (this.dir && !process.env.TELEGRAPHY_KEEP_LOGS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
