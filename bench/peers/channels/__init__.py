"""Django Channels under test: one daphne process serving benchsite (this
directory) with channels_redis against a private redis-server, both on free
loopback ports, stopped by PID. Two systems: "channels" (the core
RedisChannelLayer, Channels' default) and "channels-pubsub"
(RedisPubSubChannelLayer). Events come from group_send
(bench/publishers/publish_channels.py).

One daphne process, like one Telegraphy edge: Channels deployments scale out
with more daphne processes (as Telegraphy does with more edges); the bench
compares one process with one process.
"""

import importlib.util
import os
import shutil
import subprocess

from .. import procs
from ..system import PYTHON, System, Unavailable, child_env, python_args

HERE = os.path.dirname(os.path.abspath(__file__))
REDIS_SERVER = "/usr/bin/redis-server"

# Channels' default is 100 messages per channel; see benchsite/settings.py.
CAPACITY = 10000

# No keepalive pings during a run (nchan and the edge send none either by
# default), and a handshake may wait for group_add under W3's connect storm.
DAPHNE_ARGS = ["--ping-interval", "3600", "--ping-timeout", "3600", "--websocket_connect_timeout", "60",
               "--application-close-timeout", "5", "-v", "0"]


class Channels(System):
    name = "channels"
    layer = "core"

    def __init__(self, workdir, capacity=CAPACITY):
        super().__init__(workdir)
        self.capacity = capacity

    def check(self):
        missing = [m for m in ("daphne", "channels", "channels_redis", "django")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise Unavailable(f"python modules {', '.join(missing)} missing (bench/deps.sh: "
                              "python3-daphne python3-django-channels python3-channels-redis)")
        if not os.access(REDIS_SERVER, os.X_OK):
            raise Unavailable(f"{REDIS_SERVER} missing (bench/deps.sh: redis-server)")

    def env(self):
        return child_env({"DJANGO_SETTINGS_MODULE": "benchsite.settings", "BENCH_REDIS_PORT": str(self.redis_port),
                          "BENCH_CHANNEL_LAYER": self.layer, "BENCH_CHANNELS_CAPACITY": str(self.capacity),
                          "PYTHONPATH": HERE})

    def _start(self, timeout):
        self.redis_port, self.port = procs.free_ports(2)
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        redis_dir = os.path.join(self.workdir, "redis")
        os.makedirs(redis_dir, exist_ok=True)
        redis = procs.Proc("redis", [REDIS_SERVER, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--dir", redis_dir, "--daemonize", "no",
                                     "--maxclients", "10000", "--loglevel", "warning"],
                           os.path.join(self.workdir, "redis.log"), env=child_env())
        self.procs = [redis]
        redis.start()
        procs.wait_for("redis-server to answer PING", lambda: redis.check_alive() and self._redis_ping(), timeout)
        daphne = procs.Proc("daphne", [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                                       *DAPHNE_ARGS, "benchsite.asgi:application"],
                            os.path.join(self.workdir, "daphne.log"), env=self.env(), cwd=HERE)
        self.procs.append(daphne)
        daphne.start()
        procs.wait_for("daphne to listen", lambda: daphne.check_alive() and procs.port_open(self.port), timeout)

    def _redis_ping(self):
        import socket

        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")

    def conn_pids(self):
        return [self.procs[1].pid]  # daphne; redis is reported beside it

    def redis_rss_kib(self):
        return procs.rss_kib(self.procs[0].pid)

    def versions(self):
        out = {}
        for mod in ("daphne", "channels", "channels_redis", "django"):
            try:
                out[mod] = __import__(mod).__version__
            except Exception:  # noqa: BLE001 - versions are informative only
                out[mod] = "unknown"
        try:
            out["redis"] = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True,
                                          timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
        out["layer"] = self.layer
        if self.layer == "core":
            out["capacity"] = self.capacity
        return out

    def _publisher_args(self, *extra):
        return python_args("publish_channels.py", *extra)

    def publish(self, count, rate, timeout, log_path):
        return self._run_publisher(self._publisher_args("--count", count, "--rate", rate, "--timeout-s", timeout),
                                   timeout, log_path, env=self.env())

    def publish_w4(self, count, timeout, log_path):
        return self._run_publisher(self._publisher_args("--w4", count, "--timeout-s", timeout), timeout, log_path,
                                   env=self.env())

    def cleanup(self):
        shutil.rmtree(os.path.join(self.workdir, "redis"), ignore_errors=True)


class ChannelsPubSub(Channels):
    name = "channels-pubsub"
    layer = "pubsub"
