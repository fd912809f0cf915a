"""What bench/run.py needs from every system under test (Telegraphy and its
peers): start on free loopback ports, the URL and protocol the load client
subscribes with, the PIDs to measure, a publisher, a clean stop by PID.
"""

import abc
import json
import os
import sys

from . import procs

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(BENCH_DIR)
PUBLISHERS = os.path.join(BENCH_DIR, "publishers")
PYTHON = "/usr/bin/python3"  # Debian's: the one with python3-django, -zmq, -channels


class Unavailable(Exception):
    """The system cannot run here (a package or binary is missing): the run
    reports an "unavailable: <why>" row instead of crashing."""


class System(abc.ABC):
    """Base class. Subclasses set name and proto and implement the abstract
    methods: _start(), conn_pids() and publish()."""

    name = "?"
    proto = "raw"  # the load client's --proto
    topic = "bench.tick"  # the load client's --topic (WAMP only)

    def __init__(self, workdir):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.procs = []
        self.url = None

    # -- lifecycle -------------------------------------------------------------

    def check(self):
        """Raises Unavailable when something this system needs is missing."""

    def start(self, timeout=30.0):
        """Starts every process, waits until the system answers. On failure
        everything started so far is stopped and the error re-raised."""
        self.check()
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    @abc.abstractmethod
    def _start(self, timeout):
        """Starts the system's processes (appending each to self.procs) and
        returns once it answers, within timeout seconds."""

    def stop(self):
        """Stops every process by PID, last started first. Returns the
        problems seen (exited on its own, needed SIGKILL, left-over children)."""
        for p in reversed(self.procs):
            p.stop()
        return [x for p in self.procs for x in p.problems]

    def alive_problems(self):
        """Names of processes that have died (checked after each workload)."""
        return [f"{p.name} died (code {p.popen.returncode}): {p.tail(3)}" for p in self.procs if not p.alive()]

    # -- measuring -------------------------------------------------------------

    @abc.abstractmethod
    def conn_pids(self):
        """PIDs of the process(es) that hold the WebSockets (RSS per
        connection is theirs)."""

    def rss_kib(self):
        return sum(procs.rss_kib(pid) for pid in self.conn_pids())

    def cpu_pids(self):
        """{label: [pids]} whose CPU time is reported per workload."""
        return {p.name: [p.pid] for p in self.procs}

    def cpu_snapshot(self):
        return {label: sum(procs.cpu_s(pid) for pid in pids) for label, pids in self.cpu_pids().items()}

    def wait_subscribed(self, count, timeout):
        """Waits until `count` subscribers are really subscribed where the
        load client cannot tell (raw WebSockets). Returns the count seen."""
        return count

    def versions(self):
        return {}

    # -- publishing ------------------------------------------------------------

    @abc.abstractmethod
    def publish(self, count, rate, timeout, log_path):
        """Publishes count events of {"sent_us", "seq"} at rate/s (0 = as
        fast as accepted) within timeout s. Returns the publisher's JSON
        (count, sent, errors, start_us, end_us, rate) plus its cpu_s."""

    def publish_w4(self, count, timeout, log_path):
        """W4: count publish calls timed one by one. None when the system
        has no publish path worth measuring here."""
        return None

    def _run_publisher(self, args, timeout, log_path, env=None):
        code, out, cpu, timed_out = procs.run_bounded(args, timeout + 15, env=env, stderr_path=log_path)
        result = None
        for line in reversed(out.strip().splitlines()):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
        if result is None:
            raise RuntimeError(f"{self.name} publisher printed no result (exit {code}"
                               f"{', killed at the bound' if timed_out else ''}): {tail(log_path)}")
        result["cpu_s"] = round(cpu, 3)
        result["exit"] = code
        return result


def tail(path, lines=5):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return " | ".join(f.read().splitlines()[-lines:])
    except OSError:
        return ""


def python_args(script, *args):
    return [PYTHON, os.path.join(PUBLISHERS, script), *[str(a) for a in args]]


def child_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


if sys.version_info < (3, 9):  # os.waitstatus_to_exitcode
    raise SystemExit("bench needs Python >= 3.9 (Debian bookworm: /usr/bin/python3)")
