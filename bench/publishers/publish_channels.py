#!/usr/bin/python3
"""Django Channels' publisher for `make bench`: channel_layer.group_send of
the payload text to the group "bench", with the same channel layer settings
as the daphne under test (benchsite.settings, from BENCH_* environment
variables; PYTHONPATH must hold bench/peers/channels).

Modes (one JSON line on stdout, the shape of every bench publisher:
{"count","sent","errors","start_us","end_us","rate"} plus extras):
  --count N [--rate R]   N group_send calls of {"type": "bench.message",
                         "text": '{"sent_us":T,"seq":i}'}; R per second, 0 =
                         each call as soon as the previous one returned
                         (after one untimed group_send to another group, which
                         opens the redis connection).
  --w4 N                 N group_send calls, each timed (perf_counter_ns):
                         mean, p50, p99 µs per call and events/s (for the
                         comparison row of W4).
Bounded by --timeout-s: sending stops there and the count reached is printed.
"""

import argparse
import asyncio
import json
import os
import sys
import time

from publisher_common import burst_result, call_costs, now_us  # beside this file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "channels"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")

GROUP = "bench"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--w4", type=int, default=0, metavar="N")
    p.add_argument("--timeout-s", type=float, default=60.0)
    a = p.parse_args(argv)
    if (a.count > 0) == (a.w4 > 0):
        p.error("give exactly one of --count N or --w4 N")
    return a


def payload(i):
    return {"type": "bench.message", "text": json.dumps({"sent_us": now_us(), "seq": i}, separators=(",", ":"))}


async def warm_up(layer):
    """Opens the layer's redis connection before the timed events (a
    Django process that publishes has it open already): one group_send to a
    group nobody joined."""
    await layer.group_send("bench_warmup", {"type": "bench.message", "text": "{}"})


async def burst(a, layer):
    await warm_up(layer)
    sent = errors = 0
    start_us = now_us()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    stop_at = t0 + a.timeout_s
    for i in range(a.count):
        if a.rate > 0:
            left = t0 + i / a.rate - loop.time()
            if left > 0:
                await asyncio.sleep(left)
        if loop.time() >= stop_at:
            break
        try:
            await asyncio.wait_for(layer.group_send(GROUP, payload(i)), max(0.001, stop_at - loop.time()))
            sent += 1
        except asyncio.TimeoutError:
            break
        except Exception as e:  # noqa: BLE001 - counted, and the first one shown
            if not errors:
                print(f"publish_channels: group_send failed: {e!r}", file=sys.stderr)
            errors += 1
    return burst_result(a.count, sent, errors, start_us, now_us())


async def w4(a, layer):
    t = time.perf_counter_ns()
    await layer.group_send(GROUP, payload(0))  # opens the connection: timed apart
    first_us = (time.perf_counter_ns() - t) / 1000.0
    costs = []
    errors = 0
    clock = time.perf_counter_ns
    start_us = now_us()
    t0 = clock()
    stop_at = t0 + int(a.timeout_s * 1e9)
    for i in range(1, a.w4):
        t = clock()
        if t >= stop_at:
            break
        try:
            await layer.group_send(GROUP, payload(i))
        except Exception:  # noqa: BLE001 - counted
            errors += 1
        costs.append(clock() - t)
    loop_ns = clock() - t0
    end_us = now_us()
    return {"count": a.w4, "sent": len(costs) + 1 - errors, "errors": errors, "start_us": start_us,
            "end_us": end_us, **call_costs(costs, loop_ns, first_us)}


async def amain(a):
    import django

    django.setup()
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    try:
        return await (burst(a, layer) if a.count else w4(a, layer))
    finally:
        close_pools = getattr(layer, "close_pools", None)  # the core layer has it, pub/sub not
        if close_pools is not None:
            await close_pools()


def main(argv=None):
    a = parse_args(argv)
    result = asyncio.run(amain(a))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
