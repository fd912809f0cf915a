// An nginx load balancer in front of the edges, for the topology test:
// writes an nginx config into a temporary directory (round-robin upstream of
// the edges' loopback ports, WebSocket upgrade, connect failures retried on
// the next edge), starts Debian's nginx (nginx-light, installed by
// `make deps`) in the foreground as ONE process (daemon off, master_process
// off: the PID we spawn is the PID that serves, so it is stopped by that
// PID), waits until it proxies, and stops it by PID.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePorts, httpGet, waitFor, withTimeout } from './harness.mjs';

export const NGINX_BIN = process.env.TELEGRAPHY_NGINX || '/usr/sbin/nginx';

// Throws a clear error when nginx is not installed.
export function requireNginx() {
  if (!fs.existsSync(NGINX_BIN)) {
    throw new Error(`${NGINX_BIN} is missing: the topology test needs nginx (Debian's nginx-light; ` +
      '`make deps` installs it, or: apt-get install nginx-light)');
  }
}

// The nginx.conf text. `dir` holds the pid, logs and temporary files;
// `ports` are the edges' loopback ports; `listen` the balancer's port.
export function nginxConfig({ dir, listen, ports, connections = 4096 }) {
  const servers = ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n');
  return `# Written by tests/integration/nginx.mjs for one test run.
# One foreground process (no daemon, no master/worker split) so that the
# test stops it by the PID it spawned.
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
worker_rlimit_nofile ${connections * 2 + 64};

events {
  # Every proxied WebSocket holds two connections (client + upstream).
  worker_connections ${connections};
}

http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  # "Connection: upgrade" only when the client asked to upgrade.
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }

  # Round-robin (nginx's default) over the edges. max_fails=1: an edge that
  # refused a connection is skipped for fail_timeout, then tried again.
  upstream telegraphy_edges {
${servers}
  }

  server {
    listen 127.0.0.1:${listen};

    location / {
      proxy_pass http://telegraphy_edges;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # A dead edge refuses the connection: try the next one.
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
      # WebSocket sessions are idle between events: longer than any test.
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_buffering off;
    }
  }
}
`;
}

export class Nginx {
  // ports: the edges' loopback ports.
  constructor(ports) {
    this.ports = ports;
    this.child = null;
    this.exit = null;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpBase() {
    return `http://127.0.0.1:${this.port}`;
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  // Writes the config, checks it (nginx -t), starts nginx and waits until
  // GET /healthz through it reaches an edge.
  async start({ timeoutMs = 15000 } = {}) {
    requireNginx();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telegraphy-nginx-'));
    [this.port] = await freePorts(1);
    this.conf = path.join(this.dir, 'nginx.conf');
    fs.writeFileSync(this.conf, nginxConfig({ dir: this.dir, listen: this.port, ports: this.ports }));
    const args = ['-p', this.dir, '-c', this.conf, '-e', path.join(this.dir, 'error.log')];
    try {
      execFileSync(NGINX_BIN, [...args, '-t', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new Error(`nginx -t rejected ${this.conf}: ${e.stderr?.toString() || e.message}`);
    }
    const out = fs.openSync(path.join(this.dir, 'stdout.log'), 'a');
    this.child = spawn(NGINX_BIN, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const child = this.child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', (e) => {
        if (child.pid !== undefined) return;
        this.exit = { code: null, signal: null, error: e.message };
        resolve(this.exit);
      });
    });
    process.on('exit', () => {
      if (this.exit === null) {
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
    await waitFor('nginx to proxy GET /healthz to an edge', async () => {
      if (this.exit !== null) {
        const e = new Error(`nginx exited at start (${JSON.stringify(this.exit)}): ${this.log()}`);
        e.fatal = true;
        throw e;
      }
      try {
        return (await httpGet(`${this.httpBase}/healthz`, { timeoutMs: 1000 })).status === 200;
      } catch {
        return false;
      }
    }, { timeoutMs, intervalMs: 50 });
    return this;
  }

  // SIGTERM (nginx's fast shutdown) to the PID we spawned; SIGKILL after
  // the deadline. Resolves {code, signal}; throws if it had to be killed.
  async stop(deadlineMs = 10000) {
    if (!this.child || this.exit !== null) return this.exit;
    process.kill(this.child.pid, 'SIGTERM');
    try {
      await withTimeout(this.exited, deadlineMs, 'nginx to exit after SIGTERM');
    } catch (e) {
      process.kill(this.child.pid, 'SIGKILL');
      await withTimeout(this.exited, 5000, 'nginx to die after SIGKILL');
      throw e;
    }
    return this.exit;
  }

  // Removes the temporary directory (unless TELEGRAPHY_KEEP_LOGS is set).
  cleanup() {
    if (this.dir && !process.env.TELEGRAPHY_KEEP_LOGS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
