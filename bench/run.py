#!/usr/bin/python3
"""`make bench`: Telegraphy against nchan and Django Channels, same machine,
same load client (build/bench/telegraphy-loadgen), same run.

For each workload x system: start the system on free loopback ports, connect
the load client's subscribers (it writes a ready-file once all are ready),
measure RSS, run the publisher, wait (bounded) for the load client, collect,
stop everything by PID. Then print one table (+ CPU seconds per process) and
write bench/results/latest.json (+ latest-meta.json, latest.txt).

    /usr/bin/python3 bench/run.py                       # everything (< 15 min)
    /usr/bin/python3 bench/run.py --only W2 --systems telegraphy,nchan
    /usr/bin/python3 bench/run.py --smoke               # Telegraphy only, tiny; non-zero on any loss

See bench/README.md for what each workload does and what the numbers mean.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from peers import procs  # noqa: E402
from peers.channels import Channels, ChannelsPubSub  # noqa: E402
from peers.nchan import Nchan  # noqa: E402
from peers.system import Unavailable  # noqa: E402
from peers.telegraphy import Telegraphy  # noqa: E402

SYSTEMS = ["telegraphy", "channels", "channels-pubsub", "nchan"]
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6"]

# The workloads. bound_s: how long the system gets after the
# subscribers are ready (publishing + delivering); what is not delivered by
# then counts as loss. connect_s: how long connecting may take. repeat: runs
# of a system that delivered everything within the bound (one run of the
# others: what they reached within the bound is their result); the row is
# their median (combine()), every run kept under "runs".
SPEC = {
    "W1": {"what": "fan-out: 1,000 subscribers, 2,000 events as fast as accepted",
           "conns": 1000, "events": 2000, "rate": 0, "connect_s": 60, "bound_s": 60, "repeat": 3},
    "W2": {"what": "steady: 100 subscribers, 1,000 events/s for 10 s",
           "conns": 100, "events": 10000, "rate": 1000, "connect_s": 30, "bound_s": 40, "repeat": 3},
    "W3": {"what": "capacity: 10,000 idle subscribed connections",
           "conns": 10000, "events": 0, "rate": 0, "connect_s": 100, "bound_s": 0},
    "W4": {"what": "publish path: send() (Telegraphy) / group_send (Channels) timed call by call",
           "calls": {"telegraphy": 100000, "channels": 5000, "channels-pubsub": 5000}, "bound_s": 30},
    "W5": {"what": "guaranteed publish: send() of a guaranteed type (one persistent subscription) for 10 s,"
                   " beside telegraphy-pgceiling; then 1,000/s guaranteed vs acknowledged",
           "seconds": 10, "threads": 64, "steady_rate": 1000, "steady_s": 5, "ceiling_batch": 100,
           "ceiling_body": 32, "bound_s": 90},
    "W6": {"what": "backlog: a persistent subscriber returns to 100,000 stored events",
           "events": 100000, "threads": 64, "connect_s": 30, "bound_s": 60},
}
PERSIST_WORKLOADS = ("W5", "W6")  # Telegraphy only: persist on a private PostgreSQL
SMOKE = {"conns": 10, "events": 50, "rate": 0, "connect_s": 10, "bound_s": 8}
W4_SYSTEMS = ("telegraphy", "channels", "channels-pubsub")  # nchan's publish path is HTTP, not Django

NOTES = [
    "Telegraphy: one edge (+ router + ingest); events from Django's send() (bench/publishers/publish_telegraphy.py),"
    " subscribers speak WAMP (wamp.2.json).",
    "channels / channels-pubsub: ONE daphne process (Channels scales with more processes, as Telegraphy does with"
    " more edges: like for like), channels_redis core RedisChannelLayer / RedisPubSubChannelLayer, private"
    " redis-server; events from group_send.",
    "nchan: nginx-light + libnginx-mod-nchan, worker_processes auto (one per core); events POSTed by"
    " telegraphy-loadgen publish-http.",
    "deliveries/s = messages received by all subscribers / (last receive - publisher start); latency = receive"
    " time - sent_us in the payload; loss = 1 - received / (subscribers x events), counting everything not"
    " delivered within the bound.",
    "The load client, the publisher and the system share the machine's 2 cores: see CPU seconds per process.",
    "W5/W6: Telegraphy with telegraphy-persist on a private PostgreSQL 15 (scripts/pg.sh, fsync and"
    " synchronous_commit on); W5's libpq row is telegraphy-pgceiling on the same cluster in the same run (the"
    " same rows, batches of 100, pipelined): the most persist could reach there.",
]
PGCEILING = os.path.join(REPO_ROOT, "build", "bench", "telegraphy-pgceiling")


# --- helpers -------------------------------------------------------------------


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_system(name, workdir, args, persist=False):
    if name == "telegraphy":
        return Telegraphy(workdir, bin_dir=args.bin_dir, persist=persist)
    if name == "channels":
        return Channels(workdir)
    if name == "channels-pubsub":
        return ChannelsPubSub(workdir)
    if name == "nchan":
        return Nchan(workdir, args.loadgen)
    raise ValueError(name)


def empty_row(status=None):
    row = {"deliveries_per_s": None, "p50_ms": None, "p99_ms": None, "rss_kib_per_conn": None, "loss": None}
    if status:
        row["status"] = status
    return row


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rnd(x, digits=3):
    return None if x is None else round(x, digits)


class Subscribers:
    """One `telegraphy-loadgen subscribe` run."""

    def __init__(self, loadgen, system, conns, expect, timeout_s, workdir, extra=()):
        self.ready_path = os.path.join(workdir, "loadgen.ready")
        self.out_path = os.path.join(workdir, "loadgen.json")
        self.err_path = os.path.join(workdir, "loadgen.log")
        self.timeout_s = timeout_s
        args = [loadgen, "subscribe", "--url", system.url, "--proto", system.proto, "--conns", str(conns),
                "--expect", str(expect), "--timeout-s", str(timeout_s), "--ready-file", self.ready_path,
                "--out", self.out_path]
        if system.proto.startswith("wamp"):
            args += ["--topic", system.topic]
        args += list(extra)  # a later --topic wins
        self.started = time.monotonic()
        with open(self.err_path, "ab") as err:
            self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                          preexec_fn=procs.raise_nofile)
        self.code = None
        self.cpu = 0.0
        self.timed_out = False

    def wait_ready(self, timeout):
        """The ready-file's JSON, or None when the client exited or the
        deadline passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = read_json(self.ready_path) if os.path.exists(self.ready_path) else None
            if ready is not None:
                return ready
            if procs.exited(self.popen.pid):
                return read_json(self.ready_path)
            time.sleep(0.02)
        return None

    def finish(self, timeout, terminate=False):
        """Waits for the client to exit (SIGTERM first when terminate, or at
        the deadline), returns its --out JSON or None."""
        if self.code is None:
            if terminate and not procs.exited(self.popen.pid):
                self.popen.send_signal(signal.SIGTERM)
            self.code, usage, self.timed_out = procs.wait_rusage(self.popen, timeout)
            self.cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
        return read_json(self.out_path)

    def tail(self):
        return procs.Proc("loadgen", [], self.err_path).tail(4)


# --- one run -------------------------------------------------------------------


def run_one(workload, sysname, args, spec, base_dir):
    """Runs one workload against one system. Returns its row (the JSON
    object of latest.json for this workload x system)."""
    workdir = os.path.join(base_dir, f"{workload}-{sysname}")
    t0 = time.monotonic()
    try:
        if workload != "W4" and not args.loadgen_ok:
            raise Unavailable(f"the load client {args.loadgen} is missing (make loadgen)")
        system = make_system(sysname, workdir, args, persist=workload in PERSIST_WORKLOADS)
        system.start(timeout=60.0 if workload in PERSIST_WORKLOADS else 30.0)
    except Unavailable as e:
        return empty_row(f"unavailable: {e}"), workdir, False
    except Exception as e:  # noqa: BLE001 - reported as the row, the run goes on
        return empty_row(f"failed to start: {e}"), workdir, False
    row = empty_row()
    problems = []
    subs = None
    try:
        cpu0 = system.cpu_snapshot()
        rss0 = system.rss_kib()
        if workload == "W4":
            row = run_w4(system, spec, workdir)
        elif workload == "W5":
            row = run_w5(system, spec, workdir, args)
        elif workload == "W6":
            row = run_w6(system, spec, workdir, args)
        else:
            bound = spec["bound_s"]
            subs = Subscribers(args.loadgen, system, spec["conns"], spec["events"],
                               spec["connect_s"] + bound + (30 if workload == "W3" else 0), workdir)
            ready = subs.wait_ready(spec["connect_s"] + 5)
            ready_at = time.monotonic()
            if ready is None:
                out = subs.finish(10, terminate=True)
                raise RuntimeError(f"subscribers not ready within {spec['connect_s']}s: {subs.tail()} "
                                   f"{json.dumps(out)[:300] if out else ''}")
            subscribed = system.wait_subscribed(ready.get("connected", 0), 15)
            rss1 = system.rss_kib()
            extra = {"connected": ready.get("connected"), "failed": ready.get("failed"),
                     "connect_s": rnd(ready.get("connect_s")), "connect_rate": rnd(ready.get("connect_rate"), 1),
                     "rss_kib_before": rss0, "rss_kib_ready": rss1}
            if subscribed != ready.get("connected"):
                extra["subscribed_seen"] = subscribed
            if hasattr(system, "redis_rss_kib"):
                extra["redis_rss_kib"] = system.redis_rss_kib()
            if workload == "W3":
                out = subs.finish(15, terminate=True)
                row = w3_row(extra, spec)
            else:
                pub = system.publish(spec["events"], spec["rate"], bound, os.path.join(workdir, "publisher.log"))
                # The bound runs from "subscribers ready": the load client
                # gets SIGTERM then and reports what arrived so far.
                out = subs.finish(max(1.0, ready_at + bound - time.monotonic()))
                if out is None:
                    raise RuntimeError(f"the load client wrote no result (exit {subs.code}): {subs.tail()}")
                row = delivery_row(extra, pub, out)
                row["bound_hit"] = subs.timed_out  # stopped at the bound, not by receiving everything
            if out:
                row["loadgen"] = {k: out.get(k) for k in ("closed_by_peer", "dupes_or_extra", "cpu_s")}
        cpu1 = system.cpu_snapshot()
        row["cpu_s"] = row.pop("_cpu_window", None) or {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 2) for k in cpu1}
        if subs is not None:
            row["cpu_s"]["loadgen"] = round((row.get("loadgen") or {}).get("cpu_s") or subs.cpu, 2)
        if row.get("publisher", {}).get("cpu_s") is not None:
            row["cpu_s"]["publisher"] = row["publisher"]["cpu_s"]
        for key, value in (row.pop("_cpu_extra", None) or {}).items():
            row["cpu_s"][key] = value
        problems += system.alive_problems()
    except Unavailable as e:
        row = empty_row(f"unavailable: {e}")
    except Exception as e:  # noqa: BLE001 - reported as the row, the run goes on
        row = {**empty_row(f"failed: {e}"), **{k: v for k, v in row.items() if k not in empty_row()}}
    finally:
        if subs is not None and subs.code is None:
            subs.finish(10, terminate=True)
        problems += system.stop()
    if problems:
        row["problems"] = problems
    row["wall_s"] = round(time.monotonic() - t0, 1)
    ok = "status" not in row and not problems
    return row, workdir, ok


def combine(rows):
    """One row from repeated runs of a workload: the median of each run's
    deliveries/s, p50 and p99, the largest loss, the rest from the run whose
    p99 is the median; each run's figures under "runs"."""
    def median(key):
        values = sorted(r[key] for r in rows if r.get(key) is not None)
        return values[len(values) // 2] if values else None

    by_p99 = sorted(rows, key=lambda r: (r.get("p99_ms") is None, r.get("p99_ms") or 0))
    row = dict(by_p99[len(by_p99) // 2])
    for key in ("deliveries_per_s", "p50_ms", "p99_ms"):
        row[key] = median(key)
    losses = [r["loss"] for r in rows if r.get("loss") is not None]
    row["loss"] = max(losses) if losses else None
    row["runs"] = [{k: r.get(k) for k in ("deliveries_per_s", "p50_ms", "p99_ms", "loss", "wall_s")} for r in rows]
    row["wall_s"] = round(sum(r.get("wall_s") or 0 for r in rows), 1)
    return row


def delivery_row(extra, pub, out):
    lat = out.get("latency_us") or {}
    received = out.get("received", 0)
    start_us = pub.get("start_us") or 0
    span_us = (out.get("last_rx_us") or 0) - start_us
    dps = received / (span_us / 1e6) if received and span_us > 0 else 0.0
    return {"deliveries_per_s": round(dps, 1),
            "p50_ms": rnd(lat.get("p50", 0) / 1000) if lat.get("count") else None,
            "p99_ms": rnd(lat.get("p99", 0) / 1000) if lat.get("count") else None,
            "rss_kib_per_conn": None,
            "loss": rnd(out.get("loss"), 6),
            "p90_ms": rnd(lat.get("p90", 0) / 1000) if lat.get("count") else None,
            "max_ms": rnd(lat.get("max", 0) / 1000) if lat.get("count") else None,
            "received": received, "expected": out.get("expected"),
            "publisher": {k: pub.get(k) for k in ("count", "sent", "errors", "rate", "cpu_s")},
            **extra}


def ceiling_row(c, spec):
    """W5's libpq row from telegraphy-pgceiling's JSON."""
    row = {"events_per_s": c.get("events_per_s"), "deliveries_per_s": c.get("events_per_s"), "p50_ms": None,
           "p99_ms": None, "rss_kib_per_conn": None, "loss": None, "batch": spec["ceiling_batch"],
           "body_bytes": spec["ceiling_body"], **{k: v for k, v in c.items() if k != "events_per_s"}}
    if c.get("cpu_s") is not None:
        row["cpu_s"] = {"pgceiling": c["cpu_s"]}
    return row


def w3_row(extra, spec):
    connected = extra.get("connected") or 0
    per_conn = (extra["rss_kib_ready"] - extra["rss_kib_before"]) / connected if connected else None
    row = {"deliveries_per_s": None, "p50_ms": None, "p99_ms": None, "rss_kib_per_conn": rnd(per_conn, 2),
           "loss": None, **extra}
    if connected < spec["conns"]:
        row["status"] = f"only {connected} of {spec['conns']} connections"
    return row


def run_w4(system, spec, workdir):
    calls = spec["calls"][system.name]
    r = system.publish_w4(calls, spec["bound_s"], os.path.join(workdir, "publisher.log"))
    made = r.get("calls") or 0
    if system.name == "telegraphy":
        accepted = r.get("ingest_events_out", 0)
        loss = 1 - accepted / made if made else None
    else:
        accepted = r.get("sent")
        loss = (r.get("errors", 0) / made) if made else None
    row = {"deliveries_per_s": r.get("events_per_s"),
           "p50_ms": rnd(r.get("send_us_p50", 0) / 1000, 5), "p99_ms": rnd(r.get("send_us_p99", 0) / 1000, 5),
           "rss_kib_per_conn": None, "loss": rnd(loss, 6),
           "events_per_s": r.get("events_per_s"), "calls": made, "accepted": accepted,
           "publisher": {k: r.get(k) for k in ("count", "sent", "errors", "rate", "cpu_s")}}
    for k in ("send_us_mean", "send_us_p50", "send_us_p99", "send_us_max", "first_send_us", "publisher_drops",
              "ingest_events_in", "ingest_events_out", "ingest_rejected", "ingest_drops"):
        if k in r:
            row[k] = r[k]
    return row


def persistent_subscription(system, args, workdir, name, expect, timeout_s):
    """`telegraphy-loadgen subscribe --persistent` as user "bench" with a
    fresh ws token (single-use) on bench.stored; one connection."""
    sub_dir = os.path.join(workdir, name)
    os.makedirs(sub_dir, exist_ok=True)
    subs = Subscribers(args.loadgen, system, 1, expect, timeout_s, sub_dir,
                       extra=["--token", system.token("bench"), "--persistent", "--topic", "bench.stored"])
    return subs


def leave_persistent_subscription(system, args, workdir):
    """Makes the one persistent subscription (user bench, bench.stored) and
    leaves it: the client goes away, the subscription stays and collects."""
    # A router refuses every token spend for its first three heartbeats
    # (docs/protocol.md, TOKEN_SPEND): retried, bounded, with a fresh token.
    deadline = time.monotonic() + 15
    cpu = 0.0
    for attempt in range(100):
        subs = persistent_subscription(system, args, workdir, f"subscribe-once-{attempt}", 0, 30)
        ready = subs.wait_ready(30)
        if ready and ready.get("connected") == 1:
            # Leave only once persist holds the subscription (its
            # heartbeat's `subscriptions`): bounded by condition.
            try:
                procs.wait_for("persist to hold the persistent subscription",
                               lambda: (system.persist_stats().get("subscriptions") or 0) >= 1, 10, interval=0.1)
            except TimeoutError:
                pass
        out = subs.finish(10, terminate=True)
        cpu += subs.cpu
        if (ready and ready.get("connected") == 1) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    subs.cpu = cpu
    if not ready or ready.get("connected") != 1:
        raise RuntimeError(f"the persistent subscriber did not subscribe: {ready} {subs.tail()} "
                           f"{json.dumps(out)[:300] if out else ''}")
    if (system.persist_stats().get("subscriptions") or 0) < 1:
        raise RuntimeError("persist never held the persistent subscription (its heartbeats' subscriptions)")
    return subs.cpu


def run_pgceiling(database_url, seconds, batch, body, log_path):
    if not os.access(PGCEILING, os.X_OK):
        return {"status": f"unavailable: {PGCEILING} is missing (make loadgen)"}
    code, out, cpu, timed_out = procs.run_bounded([PGCEILING, database_url, str(seconds), str(batch), str(body)],
                                                  seconds + 30, stderr_path=log_path)
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"status": f"failed: telegraphy-pgceiling exit {code}: {out[-200:]}"}
    result["cpu_s"] = round(cpu, 2)
    return result


def run_w5(system, spec, workdir, args):
    sub_cpu = leave_persistent_subscription(system, args, workdir)
    cpu0 = system.cpu_snapshot()
    pub = system.publish_w5(spec["seconds"], spec["threads"], spec["steady_rate"], spec["steady_s"],
                            os.path.join(workdir, "publisher.log"))
    if not pub.get("sent"):
        raise RuntimeError(f"no guaranteed send was ACCEPTED: {json.dumps(pub)[:400]}")
    sg, sa = pub.get("steady_guaranteed") or {}, pub.get("steady_acknowledged") or {}
    row = {"events_per_s": pub.get("events_per_s"), "deliveries_per_s": pub.get("events_per_s"),
           "p50_ms": pub.get("p50_ms"), "p99_ms": pub.get("p99_ms"), "rss_kib_per_conn": None,
           "loss": None, "p90_ms": pub.get("p90_ms"), "max_ms": pub.get("max_ms"), "accepted": pub.get("sent"),
           "errors": pub.get("errors"), "threads": pub.get("threads"), "seconds": pub.get("seconds"),
           "steady_rate": pub.get("steady_rate"),
           "steady_guaranteed_p50_ms": sg.get("p50_ms"), "steady_guaranteed_p99_ms": sg.get("p99_ms"),
           "steady_acknowledged_p50_ms": sa.get("p50_ms"), "steady_acknowledged_p99_ms": sa.get("p99_ms"),
           "steady_p99_extra_ms": rnd(sg["p99_ms"] - sa["p99_ms"]) if sg.get("p99_ms") is not None and
           sa.get("p99_ms") is not None else None,
           "steady": {"guaranteed": sg, "acknowledged": sa},
           "persist": {k: v for k, v in system.persist_stats().items()
                       if k.startswith(("commit", "batch", "stored", "failed", "backlog"))},
           "publisher": {k: pub.get(k) for k in ("count", "sent", "errors", "rate", "cpu_s", "error_kinds",
                                                 "first_exception")},
           "_cpu_extra": {"loadgen": round(sub_cpu, 2)}}
    cpu1 = system.cpu_snapshot()
    row["_cpu_window"] = {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 2) for k in cpu1}  # without the ceiling's
    # The ceiling: the same rows by a minimal libpq client, same cluster, same run.
    row["_ceiling"] = run_pgceiling(system.database_url, spec["seconds"], spec["ceiling_batch"],
                                    spec["ceiling_body"], os.path.join(workdir, "pgceiling.log"))
    return row


def run_w6(system, spec, workdir, args):
    sub_cpu = leave_persistent_subscription(system, args, workdir)
    n = spec["events"]
    pub = system.publish_stored(n, spec["threads"], spec["bound_s"], os.path.join(workdir, "publisher.log"))
    if pub.get("sent") != n:
        raise RuntimeError(f"only {pub.get('sent')} of {n} guaranteed events were ACCEPTED: {json.dumps(pub)[:400]}")
    persist_pid, edge_pid = system.pid_of("persist"), system.pid_of("edge")
    rss0 = {"persist": procs.rss_kib(persist_pid), "edge": procs.rss_kib(edge_pid)}
    peak = dict(rss0)
    start_us = time.time_ns() // 1000
    subs = persistent_subscription(system, args, workdir, "return", n, spec["bound_s"])
    # RSS sampled while the backlog streams (every 20 ms: the peak).
    while not procs.exited(subs.popen.pid):
        peak["persist"] = max(peak["persist"], procs.rss_kib(persist_pid))
        peak["edge"] = max(peak["edge"], procs.rss_kib(edge_pid))
        time.sleep(0.02)
    out = subs.finish(spec["bound_s"] + 10)
    if out is None:
        raise RuntimeError(f"the returning subscriber wrote no result (exit {subs.code}): {subs.tail()}")
    received = out.get("received", 0)
    span = ((out.get("last_rx_us") or 0) - start_us) / 1e6
    first_to_last = ((out.get("last_rx_us") or 0) - (out.get("first_rx_us") or 0)) / 1e6
    row = {"events_per_s": round(received / span, 1) if received and span > 0 else 0.0,
           "deliveries_per_s": round(received / span, 1) if received and span > 0 else 0.0,
           "p50_ms": None, "p99_ms": None, "rss_kib_per_conn": None, "loss": rnd(out.get("loss"), 6),
           "received": received, "expected": n, "seconds": rnd(span), "first_to_last_s": rnd(first_to_last),
           "events_per_s_first_to_last": round(received / first_to_last, 1) if first_to_last > 0 else None,
           "rss_kib_persist": peak["persist"], "rss_kib_edge": peak["edge"],
           "rss_kib_persist_before": rss0["persist"], "rss_kib_edge_before": rss0["edge"],
           "rss_kib_persist_after": procs.rss_kib(persist_pid), "rss_kib_edge_after": procs.rss_kib(edge_pid),
           "stored_rate": pub.get("rate"),
           "publisher": {k: pub.get(k) for k in ("count", "sent", "errors", "rate", "cpu_s")},
           "loadgen": {k: out.get(k) for k in ("closed_by_peer", "dupes_or_extra", "cpu_s", "stopped_by")},
           "_cpu_extra": {"loadgen": round(sub_cpu + (out.get("cpu_s") or subs.cpu), 2)}}
    if received < n:
        row["status"] = f"only {received} of {n} stored events arrived within {spec['bound_s']} s"
    return row


# --- output --------------------------------------------------------------------


def ratios(results):
    """Adds "telegraphy_ratio" (Telegraphy / this peer) to every peer row."""
    for wl, rows in results.items():
        t = rows.get("telegraphy")
        if not t:
            continue
        for name, row in rows.items():
            if name == "telegraphy":
                continue
            r = {}
            for key in ("deliveries_per_s", "p99_ms", "rss_kib_per_conn"):
                a, b = t.get(key), row.get(key)
                r[key] = float(f"{a / b:.4g}") if a is not None and b else None
            row["telegraphy_ratio"] = r


def fmt(x, kind):
    if x is None:
        return "-"
    if kind == "rate":
        return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k" if x >= 1e4 else f"{x:.0f}"
    if kind == "ms":
        return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"
    if kind == "loss":
        return "0" if x == 0 else f"{x * 100:.2f}%"
    if kind == "ratio":
        return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x"
    if kind == "kib":
        return f"{x:.2f}"
    return str(x)


def note(wl, row):
    if row.get("status"):
        return row["status"]
    if wl == "W3":
        return f"{row.get('connected')}/{row.get('connected', 0) + (row.get('failed') or 0)} conns at {fmt(row.get('connect_rate'), 'rate')}/s"
    if wl == "W5" and "steady_guaranteed_p99_ms" in row:
        return (f"ACCEPTED/s, {row.get('threads')} threads; at {fmt(row.get('steady_rate'), 'rate')}/s p99"
                f" guaranteed {fmt(row.get('steady_guaranteed_p99_ms'), 'ms')} ms vs acknowledged"
                f" {fmt(row.get('steady_acknowledged_p99_ms'), 'ms')} ms")
    if wl == "W5":
        return (f"ceiling: {row.get('batch', '?')} events per commit, commit p50 {fmt(row.get('commit_p50_ms'), 'ms')}"
                f" ms, p99 {fmt(row.get('commit_p99_ms'), 'ms')} ms")
    if wl == "W6":
        return (f"{row.get('received')}/{row.get('expected')} in {row.get('seconds')} s; RSS persist"
                f" {row.get('rss_kib_persist')} KiB, edge {row.get('rss_kib_edge')} KiB (peak)")
    if wl == "W4":
        s = (f"{row.get('send_us_p50')} us p50 per call, {fmt(row.get('events_per_s'), 'rate')} calls/s")
        if "ingest_events_out" in row:
            s += f"; ingest accepted {row['ingest_events_out']}/{row.get('calls')}"
        return s
    return (f"{row.get('received')}/{row.get('expected')} recv, pub {fmt((row.get('publisher') or {}).get('rate'), 'rate')}/s,"
            f" p90 {fmt(row.get('p90_ms'), 'ms')} ms")


def table(results):
    head = ["system", "workload", "deliveries/s", "p50 ms", "p99 ms", "RSS KiB/conn", "loss",
            "T/peer deliv/s", "T/peer p99", "T/peer RSS", "notes"]
    lines = []
    for wl, rows in results.items():
        for name, row in rows.items():
            r = row.get("telegraphy_ratio") or {}
            lines.append([name, wl, fmt(row.get("deliveries_per_s"), "rate"), fmt(row.get("p50_ms"), "ms"),
                          fmt(row.get("p99_ms"), "ms"), fmt(row.get("rss_kib_per_conn"), "kib"),
                          fmt(row.get("loss"), "loss"), fmt(r.get("deliveries_per_s"), "ratio"),
                          fmt(r.get("p99_ms"), "ratio"), fmt(r.get("rss_kib_per_conn"), "ratio"), note(wl, row)])
    return render(head, lines)


def cpu_table(results):
    lines = []
    for wl, rows in results.items():
        for name, row in rows.items():
            cpu = row.get("cpu_s")
            if cpu:
                lines.append([wl, name, f"{row.get('wall_s', 0):.1f}",
                              "  ".join(f"{k} {v:.2f}" for k, v in cpu.items())])
    return render(["workload", "system", "wall s", "CPU seconds (user+sys) per process over the run"], lines)


def render(head, lines):
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)] if lines else [len(h) for h in head]
    out = []
    for i, line in enumerate([head, *lines]):
        out.append(" | ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        if i == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def machine():
    info = {"hostname": platform.node(), "kernel": platform.release(), "cores": os.cpu_count(),
            "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    info["nofile_hard"] = procs.resource.getrlimit(procs.resource.RLIMIT_NOFILE)[1]
    return info


# --- main ----------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Telegraphy vs nchan vs Django Channels (make bench)")
    p.add_argument("--only", default=",".join(WORKLOADS), help="workloads, e.g. W1,W3")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="systems, e.g. telegraphy,nchan")
    p.add_argument("--smoke", action="store_true",
                   help="Telegraphy only, 10 subscribers x 50 events; exit 1 on any loss or failure")
    p.add_argument("--loadgen", default=os.environ.get("TELEGRAPHY_LOADGEN",
                                                       os.path.join(REPO_ROOT, "build", "bench", "telegraphy-loadgen")))
    p.add_argument("--bin-dir", default=os.path.join(REPO_ROOT, "build", "bin"), help="the gateway binaries")
    p.add_argument("--out", default=None,
                   help="results JSON (default bench/results/latest.json for a full run, partial.json otherwise)")
    p.add_argument("--keep", action="store_true", help="keep every run's logs and temporary files")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply subscribers, events and calls (a quick look: --scale 0.1); the rate stays")
    a = p.parse_args(argv)
    a.only = [w.strip().upper() for w in a.only.split(",") if w.strip()]
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [w for w in a.only if w not in WORKLOADS] + [s for s in a.systems if s not in SYSTEMS]
    if bad:
        p.error(f"unknown {', '.join(bad)}: workloads are {', '.join(WORKLOADS)}, systems {', '.join(SYSTEMS)}")
    a.loadgen = os.path.abspath(a.loadgen)
    a.bin_dir = os.path.abspath(a.bin_dir)
    a.loadgen_ok = os.access(a.loadgen, os.X_OK)
    if a.scale != 1.0:
        for spec in SPEC.values():
            for key in ("conns", "events"):
                if key in spec:
                    spec[key] = max(1, int(spec[key] * a.scale))
            if "calls" in spec:
                spec["calls"] = {k: max(10, int(v * a.scale)) for k, v in spec["calls"].items()}
    return a


def smoke(args):
    """Telegraphy only, tiny: the load client against one edge. 0 when every
    event reached every subscriber and nothing misbehaved."""
    base = tempfile.mkdtemp(prefix="telegraphy-bench-smoke-")
    if not args.loadgen_ok:
        print(f"bench smoke: FAIL: the load client {args.loadgen} is missing (make loadgen)")
        return 1
    t0 = time.monotonic()
    row, workdir, ok = run_one("W1", "telegraphy", args, SMOKE, base)
    failures = []
    if not ok:
        failures.append(row.get("status") or "; ".join(row.get("problems", [])))
    else:
        want = SMOKE["conns"] * SMOKE["events"]
        if row.get("loss") != 0 or row.get("received") != want:
            failures.append(f"received {row.get('received')} of {want} (loss {row.get('loss')})")
        if row.get("connected") != SMOKE["conns"]:
            failures.append(f"connected {row.get('connected')} of {SMOKE['conns']}")
        if not row.get("deliveries_per_s") or row.get("p99_ms") is None:
            failures.append("no rate or latency measured")
        if (row.get("loadgen") or {}).get("dupes_or_extra"):
            failures.append(f"{row['loadgen']['dupes_or_extra']} duplicate or extra messages")
    took = time.monotonic() - t0
    summary = (f"{SMOKE['conns']} subscribers x {SMOKE['events']} events: received {row.get('received')},"
               f" loss {row.get('loss')}, {fmt(row.get('deliveries_per_s'), 'rate')}/s,"
               f" p50 {fmt(row.get('p50_ms'), 'ms')} ms, p99 {fmt(row.get('p99_ms'), 'ms')} ms, {took:.1f}s")
    if failures:
        print(f"bench smoke: FAIL: {'; '.join(failures)} ({summary}); logs in {workdir}")
        return 1
    print(f"bench smoke: ok: {summary}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.smoke:
        return smoke(args)
    full = args.only == WORKLOADS and args.systems == SYSTEMS and args.scale == 1.0
    out_path = args.out or os.path.join(BENCH_DIR, "results", "latest.json" if full else "partial.json")
    stem = out_path[:-5] if out_path.endswith(".json") else out_path
    base = tempfile.mkdtemp(prefix="telegraphy-bench-")
    started, t0 = now_iso(), time.monotonic()
    log(f"workloads {','.join(args.only)}, systems {','.join(args.systems)}; logs under {base}")
    if not args.loadgen_ok:
        log(f"the load client {args.loadgen} is missing: W1-W3 will be reported unavailable (make loadgen)")
    results, versions, kept = {}, {}, []
    for wl in args.only:
        spec = SPEC[wl]
        results[wl] = {}
        for name in args.systems:
            if wl == "W4" and name not in W4_SYSTEMS:
                continue
            if wl in PERSIST_WORKLOADS and name != "telegraphy":
                continue
            log(f"{wl} {name}: {spec['what']}")
            row, workdir, ok = run_one(wl, name, args, spec, base)
            if ok and not row.get("bound_hit") and spec.get("repeat", 1) > 1:
                rows = [row]
                for i in range(1, spec["repeat"]):
                    if not args.keep:
                        shutil.rmtree(workdir, ignore_errors=True)
                    log(f"{wl} {name}: run {i + 1} of {spec['repeat']}")
                    again, workdir, ok = run_one(wl, name, args, spec, os.path.join(base, f"run{i + 1}"))
                    rows.append(again)
                    if not ok:
                        row = again  # a failed repeat is the result: it says what went wrong
                        break
                else:
                    row = combine(rows)
            ceiling = row.pop("_ceiling", None)
            results[wl][name] = row
            if ceiling is not None:
                results[wl]["libpq"] = ceiling_row(ceiling, spec)
                log(f"{wl} libpq: {json.dumps(ceiling)}")
            log(f"{wl} {name}: {json.dumps({k: row.get(k) for k in ('deliveries_per_s', 'p50_ms', 'p99_ms', 'rss_kib_per_conn', 'loss', 'status', 'problems', 'wall_s') if row.get(k) is not None})}")
            if name not in versions:
                try:
                    versions[name] = make_system(name, os.path.join(base, "versions"), args).versions()
                except Exception:  # noqa: BLE001 - informative only
                    pass
            unavailable = str(row.get("status", "")).startswith("unavailable")
            if (ok or unavailable) and not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                kept.append(workdir)
    duration = time.monotonic() - t0
    ratios(results)
    text = "\n".join([
        f"Telegraphy benchmark, {started}, {os.cpu_count()} cores, load client on the same machine"
        f" ({duration:.0f} s)", "", table(results), "", "CPU seconds per process (the load client and the"
        " publisher share the cores with the system):", cpu_table(results), "",
        *[f"- {n}" for n in NOTES]])
    print(text)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
        f.write("\n")
    meta = {"started": started, "finished": now_iso(), "duration_s": round(duration, 1), "machine": machine(),
            "workloads": {w: SPEC[w] for w in args.only}, "systems": args.systems, "versions": versions,
            "loadgen": args.loadgen, "notes": NOTES}
    with open(stem + "-meta.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    with open(stem + ".txt", "w") as f:
        f.write(text + "\n")
    print(f"\nwrote {os.path.relpath(out_path)}, {os.path.relpath(stem)}-meta.json, {os.path.relpath(stem)}.txt;"
          f" took {duration:.0f} s")
    if kept:
        print("logs kept (failed runs or --keep): " + " ".join(kept))
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
