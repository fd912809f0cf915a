"""A small gateway harness for the Python integration tests (the Node one is
harness.mjs; both start the same processes with the same flags).

Starts telegraphy-router, -ingest and -edge (and, with persist=True,
telegraphy-persist on a fresh database of TELEGRAPHY_TEST_DATABASE_URL's
server, dropped at stop) from TELEGRAPHY_BIN_DIR (default
build-asan/bin, relative to the repository root) on free loopback ports,
waits by condition with deadlines, and stops them by PID (SIGTERM, SIGKILL
after a deadline). stop() raises if a process exited on its own or non-zero,
or its log holds a sanitizer report.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.path.join(REPO_ROOT, os.environ.get("TELEGRAPHY_BIN_DIR", "build-asan/bin"))
HEARTBEAT_MS = 200
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}


def free_ports(count):
    """Distinct free loopback ports (all listeners open until all chosen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(what, probe, timeout=20.0, interval=0.1):
    """Polls probe() until truthy (returned) or raises at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported at the deadline
            last = e
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last})")
        time.sleep(interval)


class Proc:
    def __init__(self, name, args, log_path):
        self.name, self.args, self.log_path = name, args, log_path
        self.popen = None
        self.problems = []

    def start(self):
        if not os.path.exists(self.args[0]):
            raise FileNotFoundError(f"{self.args[0]} is missing (build it: make SAN=1 -j2)")
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          env={**os.environ, **SANITIZER_ENV})

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, deadline=15.0):
        if self.popen is None:
            return
        if self.popen.poll() is not None:
            self.problems.append(f"{self.name} exited on its own: code={self.popen.returncode}")
        else:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(deadline)
            except subprocess.TimeoutExpired:
                self.problems.append(f"{self.name} did not exit within {deadline}s of SIGTERM; killed")
                self.popen.kill()
                self.popen.wait(5)
            if self.popen.returncode != 0:
                self.problems.append(f"{self.name} exited with {self.popen.returncode} after SIGTERM")
        log = self.log()
        for p in SANITIZER_PATTERNS:
            if p in log:
                at = log.index(p)
                self.problems.append(f"{self.name}: sanitizer report: {log[max(0, at - 200):at + 1500]}")


PSQL = next((p for p in ("/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql") if os.path.exists(p)), "psql")
_serial = 0


def psql(url, sql):
    """One SQL command with psql on the database `url` names -> its output
    (tuples only), raising with psql's stderr on failure."""
    r = subprocess.run([PSQL, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed: {r.stderr.strip()}")
    return r.stdout.strip()


def database_url_for(url, name):
    """`url` naming database `name` instead (same host, port, user)."""
    parts = urllib.parse.urlsplit(url)
    # Built by hand: urlunsplit drops the "//" of an empty host
    # ("postgresql:///db?host=/socket/dir"), which libpq then refuses.
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


class Gateway:
    def __init__(self, edge_args=(), persist=False):
        self.edge_args = list(edge_args)
        self.persist = persist
        self.database_name = None
        self.procs = []

    def bin(self, service):
        return os.path.join(BIN_DIR, f"telegraphy-{service}")

    def start(self):
        self.log_dir = tempfile.mkdtemp(prefix="telegraphy-it-py-")
        router, control, ingest, ack, edge, monitor = free_ports(6)
        self.router_ep = f"tcp://127.0.0.1:{router}"
        self.control_ep = f"tcp://127.0.0.1:{control}"
        self.monitor_ep = f"tcp://127.0.0.1:{monitor}"
        self.ingest_ep = f"tcp://127.0.0.1:{ingest}"
        self.ack_ep = f"tcp://127.0.0.1:{ack}"
        self.edge_port = edge
        hb = ["--heartbeat-ms", str(HEARTBEAT_MS)]
        persist_procs = []
        if self.persist:
            base = os.environ.get("TELEGRAPHY_TEST_DATABASE_URL")
            if not base:
                raise RuntimeError("TELEGRAPHY_TEST_DATABASE_URL is unset: a gateway with persist needs a real "
                                   "PostgreSQL (make test starts one; or scripts/pg.sh start DIR PORT)")
            global _serial
            _serial += 1
            self.database_name = f"tg_it_py_{os.getpid()}_{_serial}"
            psql(base, f"CREATE DATABASE {self.database_name}")
            self.database_base = base
            self.database_url = database_url_for(base, self.database_name)
            persist_procs = [Proc("persist", [self.bin("persist"), "--router", self.router_ep, "--database-url",
                                              self.database_url, *hb], os.path.join(self.log_dir, "persist.log"))]
        self.procs = [
            Proc("router", [self.bin("router"), "--router", self.router_ep, "--control", self.control_ep,
                            "--monitor", self.monitor_ep, *hb],
                 os.path.join(self.log_dir, "router.log")),
            Proc("ingest", [self.bin("ingest"), "--ingest", self.ingest_ep, "--ingest-ack", self.ack_ep,
                            "--router", self.router_ep, *hb], os.path.join(self.log_dir, "ingest.log")),
            Proc("edge", [self.bin("edge"), "--router", self.router_ep, "--port", str(edge), "--host", "127.0.0.1",
                          *hb, *self.edge_args], os.path.join(self.log_dir, "edge.log")),
            *persist_procs,
        ]
        try:
            for p in self.procs:
                p.start()
            wait_for("the gateway to be ready (healthz + ctl status)", self._ready)
        except Exception as e:
            report = self.log_report()
            self.stop(check=False)
            raise RuntimeError(f"{e}{report}") from e
        return self

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.edge_port}/ws"

    def _ready(self):
        for p in self.procs:
            if not p.alive():
                raise RuntimeError(f"{p.name} died during start")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.edge_port}/healthz", timeout=3) as r:
            if r.status != 200:
                return False
        status = self.status()
        if status is None:
            return False
        roles = [p.get("role") for p in status]
        if self.persist and not any(p.get("role") == "persist" and (p.get("stats") or {}).get("db_ready") == 1
                                    for p in status):
            return False
        return "ingest" in roles and "edge" in roles

    def ctl(self, *args, timeout=20):
        env = {**os.environ, **SANITIZER_ENV,
               "TELEGRAPHY_CONTROL": self.control_ep, "TELEGRAPHY_INGEST_ACK": self.ack_ep,
               "TELEGRAPHY_INGEST": self.ingest_ep, "TELEGRAPHY_ROUTER": self.router_ep,
               "TELEGRAPHY_TIMEOUT_MS": "3000"}
        return subprocess.run([self.bin("ctl"), *args], env=env, capture_output=True, text=True, timeout=timeout)

    def status(self):
        r = self.ctl("status", "--json")
        if r.returncode != 0:
            return None
        data = json.loads(r.stdout)
        if isinstance(data, list):
            return data
        procs = list(data.get("processes") or data.get("peers") or [])
        if isinstance(data.get("router"), dict):
            procs.insert(0, {"role": "router", **data["router"]})
        return procs

    def register(self, name, *flags):
        last = []

        def attempt():
            r = self.ctl("register", name, *flags)
            last[:] = [r]
            return r.returncode == 0

        try:
            wait_for(f"telegraphy-ctl register {name}", attempt, timeout=15, interval=0.2)
        except TimeoutError as e:
            r = last[0] if last else None
            raise TimeoutError(f"{e}: {r and (r.returncode, r.stdout, r.stderr)}") from e

    def publish(self, name, kwargs):
        text = kwargs if isinstance(kwargs, str) else json.dumps(kwargs)
        r = self.ctl("publish", name, "--kwargs", text)
        if r.returncode != 0:
            raise RuntimeError(f"telegraphy-ctl publish {name} failed: {r.returncode} {r.stdout} {r.stderr}")
        return r

    def log_report(self, lines=60):
        out = [f"\n--- gateway logs ({getattr(self, 'log_dir', '?')}) ---"]
        for p in self.procs:
            out.append(f"--- {p.name}:\n" + "\n".join(p.log().splitlines()[-lines:]))
        return "\n".join(out)

    def stop(self, check=True):
        for p in reversed(self.procs):  # persist, edge, ingest, router
            p.stop()
        if self.database_name:
            try:
                psql(self.database_base, f"DROP DATABASE IF EXISTS {self.database_name} WITH (FORCE)")
            except RuntimeError:
                pass  # the cluster is the runner's; a leftover database dies with it
            self.database_name = None
        problems = [x for p in self.procs for x in p.problems]
        report = self.log_report()
        if not problems and not os.environ.get("TELEGRAPHY_KEEP_LOGS"):
            shutil.rmtree(self.log_dir, ignore_errors=True)
        if check and problems:
            raise AssertionError("gateway misbehaved:\n" + "\n".join(problems) + report)
