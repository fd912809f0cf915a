#!/usr/bin/python3
"""Telegraphy's publisher for `make bench`: Django's own send(), in-process.

Django is configured here (settings.configure: INSTALLED_APPS
django_telegraphy, TELEGRAPHY pointing at the ingest under test) and the
event type is declared the way a site declares it:

    class Tick(telegraphy.Event):
        name = "bench.tick"; fields = ["sent_us", "seq"]; audience = PUBLIC

Modes (one JSON line on stdout, the shape of every bench publisher:
{"count","sent","errors","start_us","end_us","rate"} plus extras):
  --count N [--rate R]   N events of {"sent_us", "seq"}; R per second, 0 = as
                         fast as send() goes (it never blocks: PUSH with a
                         bounded queue). sent_us is taken just before send().
                         The publisher is warmed up first (warm_up()).
  --w4 N                 N send() calls, each timed (perf_counter_ns): mean,
                         p50, p99 µs per call, events/s over the whole loop,
                         and the publisher's own drop counter.
Bounded by --timeout-s: sending stops there and the count reached is printed.
"""

import argparse
import json
import os
import sys
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, REPO_ROOT)

import django  # noqa: E402
from publisher_common import burst_result, call_costs, now_us  # noqa: E402  (beside this file)
from django.conf import settings  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ingest", default="tcp://127.0.0.1:5560", help="the ingest's PULL endpoint")
    p.add_argument("--ingest-ack", default="tcp://127.0.0.1:5561", help="the ingest's ROUTER endpoint")
    p.add_argument("--secret", default=os.environ.get("TELEGRAPHY_SECRET", "bench-secret-" + "x" * 32))
    p.add_argument("--count", type=int, default=0, help="events to send (burst or paced mode)")
    p.add_argument("--rate", type=float, default=0.0, help="events per second (0 = as fast as accepted)")
    p.add_argument("--w4", type=int, default=0, metavar="N", help="time N send() calls one by one")
    p.add_argument("--timeout-s", type=float, default=60.0, help="stop sending after this many seconds")
    p.add_argument("--queue-size", type=int, default=None, help="TELEGRAPHY QUEUE_SIZE (default: the library's)")
    a = p.parse_args(argv)
    if (a.count > 0) == (a.w4 > 0):
        p.error("give exactly one of --count N or --w4 N")
    return a


def setup(a):
    conf = {"SECRET": a.secret, "INGEST": a.ingest, "INGEST_ACK": a.ingest_ack, "ENABLED": True}
    if a.queue_size:
        conf["QUEUE_SIZE"] = a.queue_size
    settings.configure(INSTALLED_APPS=["django_telegraphy"], TELEGRAPHY=conf, USE_TZ=True,
                       LOGGING_CONFIG=None, DATABASES={})
    django.setup()
    import django_telegraphy as telegraphy

    class Tick(telegraphy.Event):
        name = "bench.tick"
        fields = ["sent_us", "seq"]
        audience = telegraphy.PUBLIC

    class Warmup(telegraphy.Event):
        name = "bench.warmup"  # nobody subscribes to it
        audience = telegraphy.PUBLIC

    return Tick, Warmup


def warm_up(Warmup, timeout=2.0):
    """A Django process that publishes has its sockets open and its types
    registered long before the events we time: send one event nobody
    subscribes to (it opens the PUSH socket and sends every REGISTER), then
    wait until the socket is connected to the ingest. Without this the
    first bench.tick waits for the TCP connect and W1/W2 latency shows a
    once-per-process cost (measured: p99 16 ms instead of 2-3 ms for 500
    deliveries). W4 times the first send() apart instead."""
    from django_telegraphy import publisher

    Warmup().send()
    p = publisher.get_publisher()
    if not hasattr(p, "connects") or not hasattr(p, "_note_connections"):
        return  # the publisher changed shape: go on without waiting
    deadline = time.monotonic() + timeout
    while p.connects < 1 and time.monotonic() < deadline:
        with p.lock:
            p._note_connections()  # reads the PUSH socket's monitor
        time.sleep(0.001)


def burst(a, Tick, Warmup):
    """--count/--rate: the W1/W2 publisher."""
    warm_up(Warmup)
    sent = errors = 0
    start_us = now_us()
    t0 = time.monotonic()
    stop_at = t0 + a.timeout_s
    for i in range(a.count):
        if a.rate > 0:
            # Paced on an absolute schedule (no drift). Sleeping, not
            # spinning: the publisher shares 2 cores with what it measures.
            left = t0 + i / a.rate - time.monotonic()
            if left > 0:
                time.sleep(left)
        if time.monotonic() >= stop_at:
            break
        if Tick(sent_us=now_us(), seq=i).send():
            sent += 1
        else:
            errors += 1  # dropped by the publisher's bounded queue
    return burst_result(a.count, sent, errors, start_us, now_us())


def w4(a, Tick, Warmup):
    """--w4 N: the cost of one send() and the events/s of the loop."""
    from django_telegraphy import publisher

    # The first send opens the sockets and registers the type: timed apart.
    t = time.perf_counter_ns()
    Tick(sent_us=now_us(), seq=0).send()
    first_us = (time.perf_counter_ns() - t) / 1000.0
    costs = []
    sent = 1
    start_us = now_us()
    t0 = time.perf_counter_ns()
    stop_at = t0 + int(a.timeout_s * 1e9)
    clock = time.perf_counter_ns
    for i in range(1, a.w4):
        t = clock()
        if t >= stop_at:
            break
        ok = Tick(sent_us=now_us(), seq=i).send()
        costs.append(clock() - t)
        sent += 1 if ok else 0
    loop_ns = clock() - t0
    end_us = now_us()
    stats = publisher.stats()
    return {"count": a.w4, "sent": sent, "errors": stats.get("drops", 0), "start_us": start_us, "end_us": end_us,
            **call_costs(costs, loop_ns, first_us), "publisher_drops": stats.get("drops", 0),
            "publisher_stats": stats}


def main(argv=None):
    a = parse_args(argv)
    Tick, Warmup = setup(a)
    result = burst(a, Tick, Warmup) if a.count else w4(a, Tick, Warmup)
    # Queued events get LINGER_MS to leave when the publisher closes.
    from django_telegraphy import publisher

    publisher.reset()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
