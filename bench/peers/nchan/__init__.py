"""nchan under test: Debian's nginx-light with libnginx-mod-nchan, configured
from nginx.conf.template (beside this file) in the run's temporary directory,
listening on a free loopback port. Subscribers: WebSocket on /sub/bench.
Publisher: HTTP POSTs to /pub/bench by the load client's publish-http mode
(PUBLISHERS connections at once when unpaced).

Stopped by the master's PID (SIGTERM: fast shutdown; the workers follow);
then no worker may be left, or it is killed by its PID and reported.
"""

import json
import os
import resource
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from .. import procs
from ..system import System, Unavailable, child_env

HERE = os.path.dirname(os.path.abspath(__file__))
NGINX = "/usr/sbin/nginx"
MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
CHANNEL = "bench"
# Concurrent publish-http connections for unpaced runs, one per worker here
# (see Nchan.publish; measured: 1 -> ~300k, 2 -> ~400-450k, 4 -> ~370k deliveries/s in W1).
PUBLISHERS = 2


class Nchan(System):
    name = "nchan"

    def __init__(self, workdir, loadgen, workers="auto"):
        super().__init__(workdir)
        self.loadgen = loadgen
        self.workers = workers
        self.worker_pids = []

    def check(self):
        if not os.access(NGINX, os.X_OK):
            raise Unavailable(f"{NGINX} missing (bench/deps.sh: nginx-light)")
        if not os.path.exists(MODULE):
            raise Unavailable(f"{MODULE} missing (bench/deps.sh: libnginx-mod-nchan)")

    def config(self, port):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        nofile = min(hard, 1 << 20) if hard != resource.RLIM_INFINITY else 65536
        with open(os.path.join(HERE, "nginx.conf.template")) as f:
            text = f.read()
        for key, value in {"MODULE": MODULE, "WORKERS": self.workers, "DIR": self.workdir, "PORT": port,
                           "NOFILE": nofile, "CONNECTIONS": max(1024, nofile - 512)}.items():
            text = text.replace(f"@{key}@", str(value))
        return text

    def _start(self, timeout):
        self.port = procs.free_ports(1)[0]
        self.url = f"ws://127.0.0.1:{self.port}/sub/{CHANNEL}"
        self.pub_url = f"http://127.0.0.1:{self.port}/pub/{CHANNEL}"
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.config(self.port))
        # -e: the error log before the config is read (else /var/log/nginx).
        master = procs.Proc("nginx", [NGINX, "-p", self.workdir + "/", "-c", conf, "-e",
                                      os.path.join(self.workdir, "error.log")],
                            os.path.join(self.workdir, "nginx.out"), env=child_env())
        self.procs = [master]
        master.start()
        procs.wait_for("nginx (nchan) to answer on its port", self._ready, timeout)
        want = os.cpu_count() if self.workers == "auto" else int(self.workers)
        procs.wait_for(f"{want} nginx workers", lambda: len(procs.children(master.pid)) >= want, timeout)
        self.worker_pids = procs.children(master.pid)

    def _ready(self):
        self.procs[0].check_alive()
        if not procs.port_open(self.port):
            return False
        return self.channel_info() is not None

    def channel_info(self):
        """nchan's channel info from GET on the publisher location ({} for a
        channel nobody has used yet: 404). Its subscriber count is not
        reliable with several workers: the bench does not wait on it."""
        req = urllib.request.Request(self.pub_url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return json.loads(r.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return {}
            raise

    def conn_pids(self):
        return [self.procs[0].pid, *self.worker_pids]

    def cpu_pids(self):
        return {"nginx": self.conn_pids()}

    def versions(self):
        out = {"workers": self.workers}
        try:
            out["nginx"] = subprocess.run([NGINX, "-v"], capture_output=True, text=True,
                                          timeout=5).stderr.strip()
            out["nchan"] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-nchan"],
                                          capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
        return out

    def publish(self, count, rate, timeout, log_path):
        """POSTs `count` events. Paced runs use one connection (the pace is
        the point). Unpaced ones ("as fast as the system accepts") use
        PUBLISHERS connections at once, each from its own publish-http
        process: a POST is answered only once nchan has handed the message
        to its subscribers, so one connection would measure the round trip,
        not what nchan's workers can take. Returns the merged result."""
        parts = 1 if rate else min(PUBLISHERS, count) or 1
        shares = [count // parts + (1 if i < count % parts else 0) for i in range(parts)]
        results = [None] * parts

        def run(i):
            out = os.path.join(self.workdir, f"publish-{i}.json")
            args = [self.loadgen, "publish-http", "--url", self.pub_url, "--count", str(shares[i]),
                    "--rate", str(rate), "--timeout-s", str(timeout), "--out", out]
            code, _, cpu, timed_out = procs.run_bounded(args, timeout + 15, stderr_path=f"{log_path}.{i}")
            try:
                with open(out) as f:
                    result = json.load(f)
            except (OSError, ValueError) as e:
                result = {"error": f"publish-http {i} gave no result: exit {code}"
                                   f"{', killed at the bound' if timed_out else ''}: {e}"}
            result["cpu_s"] = round(cpu, 3)
            result["exit"] = code
            results[i] = result

        threads = [threading.Thread(target=run, args=(i,)) for i in range(parts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        failed = [r["error"] for r in results if "error" in r]
        if failed:
            raise RuntimeError(f"nchan publisher: {'; '.join(failed)}")
        merged = {"count": count, "publishers": parts,
                  "sent": sum(r.get("sent", 0) for r in results),
                  "errors": sum(r.get("errors", 0) for r in results),
                  "start_us": min(r.get("start_us", 0) for r in results),
                  "end_us": max(r.get("end_us", 0) for r in results),
                  "cpu_s": round(sum(r["cpu_s"] for r in results), 3),
                  "exit": max(r["exit"] for r in results)}
        span = (merged["end_us"] - merged["start_us"]) / 1e6
        merged["rate"] = round(merged["sent"] / span, 1) if span > 0 else 0.0
        return merged

    def stop(self):
        problems = super().stop()
        # The workers exit with the master; any that did not is killed by PID.
        left = [pid for pid in self.worker_pids if procs.read_stat(pid) is not None and _is_nginx(pid)]
        deadline = time.monotonic() + 5
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [pid for pid in left if procs.read_stat(pid) is not None and _is_nginx(pid)]
        for pid in left:
            problems.append(f"nginx worker {pid} outlived its master; killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return problems


def _is_nginx(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"nginx" in f.read()
    except OSError:
        return False
