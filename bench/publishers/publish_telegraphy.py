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
  --w5 S --threads T     W5: T threads each send() the guaranteed type
                         bench.stored back to back for S seconds; each call
                         returns once ACCEPTED (after persist's COMMIT):
                         events/s, ACCEPTED latency p50/p99 ms, errors.
                         Then --steady R events/s (0: skip) for
                         --steady-s seconds twice, each call timed: bench.stored
                         (guaranteed) and bench.tick sent acknowledged
                         (PUBLISH with a req, ACCEPTED without persist):
                         p50/p99 ms of each.
  --stored N --threads T N guaranteed bench.stored events as fast as T
                         threads get them ACCEPTED (W6's backlog).
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
    p.add_argument("--w5", type=float, default=0.0, metavar="S", help="W5: guaranteed send() for S seconds")
    p.add_argument("--stored", type=int, default=0, metavar="N", help="W6: N guaranteed events, then exit")
    p.add_argument("--threads", type=int, default=64, help="threads calling send() (W5, W6)")
    p.add_argument("--steady", type=float, default=0.0, metavar="R", help="W5: then R acknowledged sends/s")
    p.add_argument("--steady-s", type=float, default=5.0, help="W5: seconds of each steady phase")
    a = p.parse_args(argv)
    if sum(1 for x in (a.count, a.w4, a.w5, a.stored) if x > 0) != 1:
        p.error("give exactly one of --count N, --w4 N, --w5 S or --stored N")
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

    class Stored(telegraphy.Event):
        name = "bench.stored"  # W5/W6: one persistent subscription holds it
        fields = ["sent_us", "seq"]
        audience = telegraphy.PUBLIC
        guaranteed = True

    global STORED
    STORED = Stored
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


STORED = None  # the guaranteed type, declared by setup()


def percentiles_ms(samples_ns):
    s = sorted(samples_ns)
    if not s:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    pick = lambda q: round(s[min(len(s) - 1, int(q * len(s)))] / 1e6, 3)  # noqa: E731
    return {"p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99), "max_ms": round(s[-1] / 1e6, 3)}


def threaded(threads, work):
    """Runs work(k) in `threads` threads; returns (ok latencies ns, errors, first error)."""
    import threading
    lat, errs, first = [], [0], []

    def run(k):
        mine = []
        try:
            work(k, mine)
        except Exception as e:  # noqa: BLE001 - counted, the first one reported
            errs[0] += 1
            first.append(repr(e))
        lat.extend(mine)

    ts = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, errs[0], first[:1]


def guaranteed_loop(stop_at, counter, errors, limit=None):
    """work() for threaded(): guaranteed send() back to back until stop_at
    (or until `limit` events were claimed), each timed."""
    from django_telegraphy.exceptions import TelegraphyDeliveryError
    clock = time.perf_counter_ns

    def work(k, mine):
        while True:
            with counter["lock"]:
                i = counter["n"]
                if (limit is not None and i >= limit) or clock() >= stop_at:
                    return
                counter["n"] = i + 1
            t = clock()
            try:
                STORED(sent_us=now_us(), seq=i).send()
            except TelegraphyDeliveryError as e:
                errors.append(e.error)
                continue
            mine.append(clock() - t)
    return work


def steady(rate, seconds, send, threads=16):
    """`rate` calls/s of send(i) for `seconds` on an absolute schedule,
    spread over threads (an acknowledged call blocks for its round trip);
    each call timed from its start to its return."""
    count = int(rate * seconds)
    t0 = time.monotonic() + 0.05
    errors = []

    def work(k, mine):
        for i in range(k, count, threads):
            left = t0 + i / rate - time.monotonic()
            if left > 0:
                time.sleep(left)
            t = time.perf_counter_ns()
            try:
                send(i)
            except Exception as e:  # noqa: BLE001 - counted
                errors.append(repr(e))
                continue
            mine.append(time.perf_counter_ns() - t)

    lat, _, _ = threaded(threads, work)
    return {"calls": count, "ok": len(lat), "errors": len(errors), **percentiles_ms(lat),
            "first_error": errors[:1]}


def w5(a, Tick, Warmup):
    """--w5 S: guaranteed send() from --threads threads for S seconds; then
    the steady comparison."""
    import threading
    from django_telegraphy import publisher
    from django_telegraphy.serialization import pack_body

    warm_up(Warmup)
    STORED(sent_us=now_us(), seq=-1).send()  # registers the type (acknowledged), opens the DEALER
    counter, errors = {"n": 0, "lock": threading.Lock()}, []
    start_us = now_us()
    t0 = time.perf_counter_ns()
    lat, failed, first = threaded(a.threads, guaranteed_loop(t0 + int(a.w5 * 1e9), counter, errors))
    wall = (time.perf_counter_ns() - t0) / 1e9
    result = {"count": counter["n"], "sent": len(lat), "errors": len(errors) + failed, "start_us": start_us,
              "end_us": now_us(), "rate": round(len(lat) / wall, 1), "events_per_s": round(len(lat) / wall, 1),
              "threads": a.threads, "seconds": round(wall, 3), **percentiles_ms(lat),
              "error_kinds": sorted(set(errors))[:5], "first_exception": first}
    if a.steady > 0:
        p = publisher.get_publisher()
        result["steady_guaranteed"] = steady(a.steady, a.steady_s,
                                             lambda i: STORED(sent_us=now_us(), seq=10**9 + i).send())

        def tick_acknowledged(i):
            body = pack_body({"sent_us": now_us(), "seq": i})
            p._publish_acknowledged(Tick, {"v": 1, "topic": Tick.name}, body)
        result["steady_acknowledged"] = steady(a.steady, a.steady_s, tick_acknowledged)
        result["steady_rate"] = a.steady
    result["publisher_stats"] = publisher.stats()
    return result


def stored(a, Tick, Warmup):
    """--stored N: N guaranteed events as fast as they are ACCEPTED."""
    import threading
    from django_telegraphy import publisher

    warm_up(Warmup)
    counter, errors = {"n": 0, "lock": threading.Lock()}, []
    start_us = now_us()
    t0 = time.perf_counter_ns()
    lat, failed, first = threaded(a.threads, guaranteed_loop(t0 + int(a.timeout_s * 1e9), counter, errors,
                                                             limit=a.stored))
    wall = (time.perf_counter_ns() - t0) / 1e9
    return {"count": a.stored, "sent": len(lat), "errors": len(errors) + failed, "start_us": start_us,
            "end_us": now_us(), "rate": round(len(lat) / wall, 1), "seconds": round(wall, 3),
            **percentiles_ms(lat), "first_exception": first, "publisher_stats": publisher.stats()}


def main(argv=None):
    a = parse_args(argv)
    Tick, Warmup = setup(a)
    if a.w5:
        result = w5(a, Tick, Warmup)
    elif a.stored:
        result = stored(a, Tick, Warmup)
    else:
        result = burst(a, Tick, Warmup) if a.count else w4(a, Tick, Warmup)
    # Queued events get LINGER_MS to leave when the publisher closes.
    from django_telegraphy import publisher

    publisher.reset()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
