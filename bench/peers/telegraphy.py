"""Telegraphy under test: telegraphy-router, -ingest and -edge from
build/bin (the flags of tests/integration/gateway.py), one edge, the event
type bench.tick registered with telegraphy-ctl before anyone subscribes.
Events come from Django's send() (bench/publishers/publish_telegraphy.py).

With persist=True (W5, W6 only) it also starts telegraphy-persist on a
private PostgreSQL (scripts/pg.sh: initdb into a fresh directory, stopped by
the PID in its postmaster.pid at the end) and registers the guaranteed type
bench.stored.
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import urllib.request

from . import procs
from .system import REPO_ROOT, System, Unavailable, child_env, python_args

HEARTBEAT_MS = 500
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# The edge as shipped, except: room for W3's 10,000 sessions (the default
# cap is exactly 10,000, and the load client's must all fit).
EDGE_ARGS = ["--max-sessions", "20000"]
# persist as shipped, except the backlog bound: W5 stores ~10 s of events for
# its one persistent subscription and W6 100,000 (the default 10,000 would
# turn W5 into a stream of overflow deletes and W6 into a gap).
PERSIST_ARGS = ["--backlog-max", "2000000"]
PG_SCRIPT = os.path.join(REPO_ROOT, "scripts", "pg.sh")


class Telegraphy(System):
    name = "telegraphy"
    proto = "wamp-json"

    def __init__(self, workdir, bin_dir=None, edge_args=(), persist=False):
        super().__init__(workdir)
        self.bin_dir = bin_dir or os.path.join(REPO_ROOT, "build", "bin")
        self.edge_args = [*EDGE_ARGS, *edge_args]
        self.secret = secrets.token_hex(32)
        self.persist = persist
        self.pg_dir = None
        self.database_url = None

    def bin(self, service):
        return os.path.join(self.bin_dir, f"telegraphy-{service}")

    def check(self):
        services = ("router", "ingest", "edge", "ctl") + (("persist",) if self.persist else ())
        missing = [s for s in services if not os.access(self.bin(s), os.X_OK)]
        if self.persist and not os.access("/usr/lib/postgresql/15/bin/initdb", os.X_OK) and \
                not os.environ.get("TELEGRAPHY_PG_BIN"):
            raise Unavailable("PostgreSQL 15 is missing (make deps installs Debian's postgresql)")
        if missing:
            raise Unavailable(f"missing {', '.join(self.bin(s) for s in missing)} (make all)")

    def _start(self, timeout):
        router, control, monitor, ingest, ack, edge = procs.free_ports(6)
        self.router_ep = f"tcp://127.0.0.1:{router}"
        self.control_ep = f"tcp://127.0.0.1:{control}"
        self.monitor_ep = f"tcp://127.0.0.1:{monitor}"
        self.ingest_ep = f"tcp://127.0.0.1:{ingest}"
        self.ack_ep = f"tcp://127.0.0.1:{ack}"
        self.edge_port = edge
        self.url = f"ws://127.0.0.1:{edge}/ws"
        env = child_env({"TELEGRAPHY_SECRET": self.secret, "TELEGRAPHY_LOG_LEVEL": "warning"})
        hb = ["--heartbeat-ms", str(HEARTBEAT_MS)]
        log = lambda n: os.path.join(self.workdir, f"{n}.log")  # noqa: E731
        self.procs = [
            procs.Proc("router", [self.bin("router"), "--router", self.router_ep, "--control", self.control_ep,
                                  "--monitor", self.monitor_ep, *hb], log("router"), env=env),
            procs.Proc("ingest", [self.bin("ingest"), "--ingest", self.ingest_ep, "--ingest-ack", self.ack_ep,
                                  "--router", self.router_ep, *hb], log("ingest"), env=env),
            procs.Proc("edge", [self.bin("edge"), "--router", self.router_ep, "--host", "127.0.0.1",
                                "--port", str(edge), *hb, *self.edge_args], log("edge"), env=env),
        ]
        if self.persist:
            self._start_postgres(timeout)
            self.procs.append(procs.Proc("persist", [self.bin("persist"), "--router", self.router_ep, "--database-url",
                                                     self.database_url, *hb, *PERSIST_ARGS], log("persist"), env=env))
        for p in self.procs:
            p.start()
        procs.wait_for("the Telegraphy gateway (edge /healthz, ingest and edge in ctl status)", self._ready, timeout)
        last = {}

        def register():
            r = self.ctl("register", "bench.tick", "--fields", "sent_us,seq", "--audience", "public")
            last["r"] = r
            return r.returncode == 0

        try:
            procs.wait_for("telegraphy-ctl register bench.tick", register, timeout, interval=0.2)
            if self.persist:
                r = self.ctl("register", "bench.stored", "--fields", "sent_us,seq", "--audience", "public",
                             "--guaranteed")
                last["r"] = r
                if r.returncode != 0:
                    raise TimeoutError("telegraphy-ctl register bench.stored --guaranteed failed")
        except TimeoutError as e:
            r = last.get("r")
            raise TimeoutError(f"{e}: {r and (r.returncode, r.stdout, r.stderr)}") from e

    def _start_postgres(self, timeout):
        """A private cluster in a fresh directory directly under the temp dir
        (as root, pg.sh runs it as `postgres`, who must be able to reach
        it: the bench's own directories are private)."""
        self.pg_dir = tempfile.mkdtemp(prefix="telegraphy-bench-pg-")
        port, = procs.free_ports(1)
        with open(os.path.join(self.workdir, "postgres-start.log"), "wb") as err:
            r = subprocess.run([PG_SCRIPT, "start", self.pg_dir, str(port)], stdout=subprocess.PIPE, stderr=err,
                               timeout=timeout + 60)
        if r.returncode != 0:
            raise RuntimeError(f"scripts/pg.sh start failed (exit {r.returncode}), see "
                               f"{os.path.join(self.workdir, 'postgres-start.log')}")
        self.database_url = r.stdout.decode().strip().splitlines()[-1]
        with open(os.path.join(self.workdir, "postgres.url"), "w") as f:
            f.write(f"{self.database_url}\n{self.pg_dir}\n")

    def postgres_pids(self):
        """The postmaster's PID and its children's (their CPU is the
        server's)."""
        try:
            with open(os.path.join(self.pg_dir, "data", "postmaster.pid")) as f:
                master = int(f.readline())
        except (OSError, ValueError, TypeError):
            return []
        return [master, *procs.children(master)]

    def cpu_pids(self):
        pids = super().cpu_pids()
        if self.persist and self.pg_dir:
            pids["postgres"] = self.postgres_pids()
        return pids

    def pid_of(self, name):
        return next((p.pid for p in self.procs if p.name == name), None)

    def _ready(self):
        for p in self.procs:
            p.check_alive()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.edge_port}/healthz", timeout=2) as r:
            if r.status != 200:
                return False
        status = self.status()
        roles = [p.get("role") for p in status]
        if self.persist and not any(p.get("role") == "persist" and (p.get("stats") or {}).get("db_ready") == 1
                                    for p in status):
            return False
        return "ingest" in roles and "edge" in roles

    def ctl(self, *args, timeout=20):
        env = child_env({"TELEGRAPHY_CONTROL": self.control_ep, "TELEGRAPHY_INGEST_ACK": self.ack_ep,
                         "TELEGRAPHY_INGEST": self.ingest_ep, "TELEGRAPHY_ROUTER": self.router_ep,
                         "TELEGRAPHY_SECRET": self.secret, "TELEGRAPHY_TIMEOUT_MS": "3000"})
        return subprocess.run([self.bin("ctl"), *args], env=env, capture_output=True, text=True, timeout=timeout)

    def status(self):
        """The processes of `telegraphy-ctl status --json` ([] when it fails)."""
        r = self.ctl("status", "--json")
        if r.returncode != 0:
            return []
        return json.loads(r.stdout).get("processes") or []

    def ingest_stats(self):
        """The ingest's stats from its last heartbeat, plus its uptime_ms."""
        for p in self.status():
            if p.get("role") == "ingest":
                return {**(p.get("stats") or {}), "uptime_ms": p.get("uptime_ms", 0)}
        return {}

    def settled_ingest_stats(self, timeout=5.0):
        """The ingest's stats once two heartbeats in a row agree on
        events_in (earlier events have all been counted)."""
        prev = {}
        seen = {}

        def probe():
            cur = self.ingest_stats()
            same = bool(prev) and cur.get("uptime_ms") != prev.get("uptime_ms") and \
                cur.get("events_in") == prev.get("events_in")
            if not prev or cur.get("uptime_ms") != prev.get("uptime_ms"):
                prev.clear()
                prev.update(cur)
            seen.update(cur)
            return same

        try:
            procs.wait_for("the ingest's counters to settle", probe, timeout, interval=HEARTBEAT_MS / 4000)
        except TimeoutError:
            pass
        return seen

    def edge_stats(self):
        for p in self.status():
            if p.get("role") == "edge":
                return p.get("stats") or {}
        return {}

    def conn_pids(self):
        return [self.pid_of("edge")]

    def stop(self):
        """Stops edge, ingest, router by PID; a sanitizer report in a log
        (SAN=1 builds, --bin-dir build-asan/bin) is a problem too."""
        problems = super().stop()
        if self.pg_dir:
            r = subprocess.run([PG_SCRIPT, "stop", self.pg_dir], capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                problems.append(f"postgres: scripts/pg.sh stop {self.pg_dir} failed: {r.stderr.strip()[-300:]}")
            else:
                shutil.rmtree(self.pg_dir, ignore_errors=True)
            self.pg_dir = None
        for p in self.procs:
            text = p.tail(10**6)
            for pattern in SANITIZER_PATTERNS:
                if pattern in text:
                    problems.append(f"{p.name}: sanitizer report ({pattern}) in {p.log_path}")
        return problems

    def versions(self):
        try:
            rev = subprocess.run(["git", "-C", REPO_ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                 text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            rev = ""
        return {"telegraphy": rev or "unknown", "edge_args": " ".join(self.edge_args)}

    # -- publishing ------------------------------------------------------------

    def _publisher_args(self, *extra):
        return python_args("publish_telegraphy.py", "--ingest", self.ingest_ep, "--ingest-ack", self.ack_ep,
                           "--secret", self.secret, *extra)

    def publish(self, count, rate, timeout, log_path):
        return self._run_publisher(self._publisher_args("--count", count, "--rate", rate, "--timeout-s", timeout),
                                   timeout, log_path, env=child_env())

    def publish_w5(self, seconds, threads, steady_rate, steady_s, log_path):
        """W5: guaranteed send() from `threads` threads for `seconds`, then
        the steady comparison (publish_telegraphy.py --w5)."""
        timeout = seconds + 2 * steady_s + 30
        return self._run_publisher(self._publisher_args("--w5", seconds, "--threads", threads, "--steady",
                                                        steady_rate, "--steady-s", steady_s, "--timeout-s",
                                                        timeout), timeout, log_path, env=child_env())

    def publish_stored(self, count, threads, timeout, log_path):
        """W6: `count` guaranteed events as fast as they are ACCEPTED."""
        return self._run_publisher(self._publisher_args("--stored", count, "--threads", threads, "--timeout-s",
                                                        timeout), timeout, log_path, env=child_env())

    def token(self, user):
        """A resume token of `user` with a fixed client id: a persistent
        subscription belongs to the client id (a ws token gets a fresh one
        per session), and a resume token is reusable (never spent), as a
        returning non-browser client sends it (DESIGN 2.4)."""
        r = self.ctl("token", "--user", user, "--resume", "--cid", f"{user}-client", "--ttl", "600")
        if r.returncode != 0:
            raise RuntimeError(f"telegraphy-ctl token failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def persist_stats(self):
        for p in self.status():
            if p.get("role") == "persist":
                return p.get("stats") or {}
        return {}

    def publish_w4(self, count, timeout, log_path):
        """send() timed call by call, and what the ingest accepted of it: its
        events_in / events_out / rejected / drops before and after (read
        from the heartbeats in `telegraphy-ctl status --json`)."""
        before = self.settled_ingest_stats()
        result = self._run_publisher(self._publisher_args("--w4", count, "--timeout-s", timeout), timeout, log_path,
                                     env=child_env())
        want = before.get("events_in", 0) + result.get("sent", 0)
        seen = {}

        def settled():
            # Every queued send has reached the ingest, and a heartbeat taken
            # after that reports it; or the deadline tells what arrived.
            seen.update(self.ingest_stats())
            return seen.get("events_in", 0) >= want

        try:
            procs.wait_for("the ingest to count W4's events", settled, timeout=5 + 3 * HEARTBEAT_MS / 1000)
        except TimeoutError:
            pass
        for key in ("events_in", "events_out", "rejected", "drops"):
            result[f"ingest_{key}"] = seen.get(key, 0) - before.get(key, 0)
        return result
