"""`manage.py telegraphy` starting and stopping real gateway processes
(TELEGRAPHY_BIN_DIR, default build-asan/bin)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request

from django.test import SimpleTestCase

from helpers import BIN_DIR, HERE, free_ports, wait_for

MANAGE = os.path.join(HERE, "manage.py")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (it is reaped by its parent).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class Command:
    """manage.py telegraphy in a subprocess, its output collected by a thread."""

    def __init__(self, *args, config=None):
        ports = free_ports(6)
        self.config = config or {
            "INGEST": f"tcp://127.0.0.1:{ports[0]}", "INGEST_ACK": f"tcp://127.0.0.1:{ports[1]}",
            "ROUTER": f"tcp://127.0.0.1:{ports[2]}", "CONTROL": f"tcp://127.0.0.1:{ports[3]}",
            "MONITOR": f"tcp://127.0.0.1:{ports[5]}",
            "WS_URL": f"ws://127.0.0.1:{ports[4]}/ws", "GATEWAY_ENV": {"TELEGRAPHY_HEARTBEAT_MS": "200"}}
        self.edge_port = ports[4]
        env = {**os.environ, "TELEGRAPHY_TEST_CONFIG": json.dumps(self.config),
               "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"}
        self.popen = subprocess.Popen([sys.executable, MANAGE, "telegraphy", *args], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self):
        return "\n".join(self.lines)

    def healthy(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.edge_port}/healthz", timeout=2) as r:
            return r.status == 200

    def pids(self):
        line = wait_for("the 'gateway started' line", lambda: next(
            (x for x in self.lines if "gateway started" in x), None))
        return [int(p) for p in re.search(r"pids=([\d,]+)", line).group(1).split(",")]

    def finish(self, timeout=30):
        try:
            self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
            self.thread.join(5)
            self.popen.stdout.close()
        return self.popen.returncode


class ManagementCommandTests(SimpleTestCase):
    # The command starts router, ingest and edge with the settings' endpoints,
    # streams their logs with prefixes, restarts a killed child, and on
    # SIGTERM stops them all and exits 0.
    def test_runs_restarts_and_stops_the_gateway(self):
        cmd = Command("--bin-dir", BIN_DIR)
        try:
            wait_for("the edge's /healthz", cmd.healthy, timeout=30)
            router, ingest, edge = cmd.pids()
            wait_for("prefixed lines of each service",
                     lambda: all(any(x.startswith(f"[{s}] ") for x in cmd.lines) for s in ("router", "ingest", "edge")))
            self.assertIn(cmd.config["INGEST"], cmd.output())
            os.kill(edge, signal.SIGKILL)
            wait_for("the edge to be restarted",
                     lambda: any(re.search(r"edge restarted pid=\d+", x) for x in cmd.lines), timeout=15)
            self.assertIn("edge exited with status", cmd.output())
            new_edge = int(re.search(r"edge restarted pid=(\d+)", cmd.output()).group(1))
            wait_for("the restarted edge's /healthz", cmd.healthy, timeout=30)
            cmd.popen.send_signal(signal.SIGTERM)
            self.assertEqual(cmd.finish(), 0, cmd.output())
            self.assertIn("gateway stopped (SIGTERM)", cmd.output())
            for pid in (router, ingest, new_edge):
                self.assertFalse(pid_alive(pid), f"pid {pid} still alive")
            self.assertNotIn("ERROR: AddressSanitizer", cmd.output())
            self.assertNotIn("ERROR: LeakSanitizer", cmd.output())
        finally:
            if cmd.popen.poll() is None:
                cmd.popen.kill()
            cmd.finish()

    # SIGINT (Ctrl-C) stops it cleanly too.
    def test_sigint_stops_the_gateway(self):
        cmd = Command("--bin-dir", BIN_DIR)
        try:
            wait_for("the edge's /healthz", cmd.healthy, timeout=30)
            pids = cmd.pids()
            cmd.popen.send_signal(signal.SIGINT)
            self.assertEqual(cmd.finish(), 0, cmd.output())
            self.assertFalse(any(pid_alive(p) for p in pids))
        finally:
            cmd.finish()

    # A missing binary: exit status 2 and a message naming it and the fix.
    def test_missing_binary_exits_non_zero_with_a_message(self):
        cmd = Command("--bin-dir", "/nonexistent/bin")
        self.assertEqual(cmd.finish(), 2)
        self.assertIn("telegraphy-router", cmd.output())
        self.assertIn("not found in /nonexistent/bin", cmd.output())
        self.assertIn("BIN_DIR", cmd.output())

    # A port already taken: exit non-zero before starting anything, naming it.
    def test_taken_port_exits_non_zero_with_a_message(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        ports = free_ports(5)
        config = {"INGEST": f"tcp://127.0.0.1:{port}", "INGEST_ACK": f"tcp://127.0.0.1:{ports[0]}",
                  "ROUTER": f"tcp://127.0.0.1:{ports[1]}", "CONTROL": f"tcp://127.0.0.1:{ports[2]}",
                  "MONITOR": f"tcp://127.0.0.1:{ports[4]}",
                  "WS_URL": f"ws://127.0.0.1:{ports[3]}/ws"}
        cmd = Command("--bin-dir", BIN_DIR, config=config)
        self.assertEqual(cmd.finish(), 2)
        self.assertIn(f"port {port} (INGEST", cmd.output())
        self.assertIn("already in use", cmd.output())
        self.assertNotIn("gateway started", cmd.output())
