"""What every bench publisher shares: the clock of `sent_us`, and the JSON
shapes it prints (the burst/paced result and the W4 per-call costs)."""

import time


def now_us():
    """µs since the Unix epoch (CLOCK_REALTIME): the load client compares
    its receive time with it."""
    return time.time_ns() // 1000


def burst_result(count, sent, errors, start_us, end_us):
    """The line of a --count run: {"count","sent","errors","start_us","end_us","rate"}."""
    return {"count": count, "sent": sent, "errors": errors, "start_us": start_us, "end_us": end_us,
            "rate": round(sent / max(1e-6, (end_us - start_us) / 1e6), 1)}


def call_costs(costs_ns, loop_ns, first_us):
    """W4's figures from the timed calls (ns each; the first, untimed
    call's µs apart): calls, calls/s over the loop, mean/p50/p99/max µs."""
    costs = sorted(costs_ns)
    calls = len(costs)

    def percentile(p):
        return costs[min(calls - 1, int(p / 100.0 * calls))] if calls else 0

    per_s = round(calls / max(1e-9, loop_ns / 1e9), 1)
    return {"rate": per_s, "calls": calls + 1, "events_per_s": per_s,
            "send_us_mean": round(sum(costs) / max(1, calls) / 1000.0, 3),
            "send_us_p50": round(percentile(50) / 1000.0, 3),
            "send_us_p99": round(percentile(99) / 1000.0, 3),
            "send_us_max": round((costs[-1] if costs else 0) / 1000.0, 3),
            "first_send_us": round(first_us, 1)}
