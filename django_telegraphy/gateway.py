"""Runs the gateway (router, ingest, edge) configured from Django settings:
the body of `python manage.py telegraphy`.

- Binaries: TELEGRAPHY["BIN_DIR"], else this repository's build/bin when
  the package runs from a checkout, else PATH.
- Children get the TELEGRAPHY_* environment (SECRET, INGEST, INGEST_ACK,
  ROUTER, CONTROL, MONITOR, EDGE_HOST, EDGE_PORT, REALM, plus GATEWAY_ENV); their
  output is streamed line by line, prefixed with "[router] " etc.
- A child that exits on its own is restarted after a backoff (0.5 s,
  doubling, at most 10 s; back to 0.5 s after 30 s of good running). A
  configuration error (exit status 2) stops everything instead.
- SIGINT/SIGTERM stop the children (SIGTERM, SIGKILL after 10 s; edge,
  ingest, then router) and return 0.
- A missing binary or a port already in use raises GatewayError before
  anything starts (the command exits non-zero with its message).
"""

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, TextIO
from urllib.parse import urlparse

from .checks import parse_tcp
from .conf import get_config
from .exceptions import GatewayError

SERVICES = ("router", "ingest", "edge")
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
HEALTHY_AFTER = 30.0
STOP_DEADLINE = 10.0
EXIT_CONFIG_ERROR = 2


def find_bin_dir(config: Dict[str, Any]) -> Optional[str]:
    """BIN_DIR, else the checkout's build/bin (when it holds the router),
    else None (PATH)."""
    if config.get("BIN_DIR"):
        return str(config["BIN_DIR"])
    checkout = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "bin")
    if os.access(os.path.join(checkout, "telegraphy-router"), os.X_OK):
        return checkout
    return None


def find_binaries(bin_dir: Optional[str]) -> Dict[str, str]:
    """{service: path}; raises GatewayError naming what is missing."""
    found, missing = {}, []
    for service in SERVICES:
        name = f"telegraphy-{service}"
        path = os.path.join(bin_dir, name) if bin_dir else shutil.which(name)
        if path and os.access(path, os.X_OK):
            found[service] = path
        else:
            missing.append(name)
    if missing:
        where = f"in {bin_dir}" if bin_dir else "on PATH"
        raise GatewayError(f"telegraphy: {', '.join(missing)} not found {where}. Build the gateway (`make`) or set "
                           f'TELEGRAPHY["BIN_DIR"] to the directory that holds the binaries.')
    return found


def edge_address(config: Dict[str, Any]) -> tuple:
    """(host, port) the edge listens on, from WS_URL."""
    u = urlparse(config["WS_URL"])
    return u.hostname or "127.0.0.1", u.port or (443 if u.scheme == "wss" else 80)


def child_environment(config: Dict[str, Any]) -> Dict[str, str]:
    """The TELEGRAPHY_* variables the children read."""
    host, port = edge_address(config)
    env = {
        "TELEGRAPHY_INGEST": config["INGEST"], "TELEGRAPHY_INGEST_ACK": config["INGEST_ACK"],
        "TELEGRAPHY_ROUTER": config["ROUTER"], "TELEGRAPHY_CONTROL": config["CONTROL"],
        "TELEGRAPHY_MONITOR": config["MONITOR"],
        "TELEGRAPHY_EDGE_HOST": host, "TELEGRAPHY_EDGE_PORT": str(port), "TELEGRAPHY_REALM": config["REALM"],
    }
    if config.get("SECRET"):
        env["TELEGRAPHY_SECRET"] = str(config["SECRET"])
    env.update({str(k): str(v) for k, v in (config.get("GATEWAY_ENV") or {}).items()})
    return env


def check_ports(config: Dict[str, Any]) -> None:
    """Raises GatewayError when a TCP port the gateway binds is taken."""
    wanted = [(key, parse_tcp(config[key])) for key in ("INGEST", "INGEST_ACK", "ROUTER", "CONTROL", "MONITOR")]
    wanted.append(("WS_URL", edge_address(config)))
    for key, target in wanted:
        if target is None:
            continue
        host, port = target
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise GatewayError(f'telegraphy: port {port} ({key} = {config[key]}) is already in use: is another '
                                   f'gateway running? Stop it or change TELEGRAPHY["{key}"].') from None
            raise GatewayError(f"telegraphy: cannot bind {host}:{port} ({key}): {e.strerror}") from None
        finally:
            s.close()


def _die_with_parent() -> None:
    """In the child: receive SIGTERM if the supervisor dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


class Child:
    def __init__(self, service: str, path: str, env: Dict[str, str], out: "LineWriter"):
        self.service, self.path, self.env, self.out = service, path, env, out
        self.popen: Optional[subprocess.Popen] = None
        self.started_at = 0.0
        self.backoff = BACKOFF_FIRST
        self.restart_at: Optional[float] = None
        self.restarts = 0

    def start(self) -> None:
        self.popen = subprocess.Popen([self.path], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                      start_new_session=True)  # Ctrl-C reaches only us; we stop them in order
        self.started_at = time.monotonic()
        self.restart_at = None
        threading.Thread(target=self._pump, args=(self.popen,), daemon=True).start()

    def _pump(self, popen: subprocess.Popen) -> None:
        for line in iter(popen.stdout.readline, b""):
            self.out.line(self.service, line.decode("utf-8", "replace").rstrip("\n"))
        popen.stdout.close()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)


class LineWriter:
    """Serialises prefixed lines from several threads onto one stream."""

    def __init__(self, stream: TextIO):
        self.stream, self.lock = stream, threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self.lock:
            self.stream.write(f"[{prefix}] {text}\n")
            self.stream.flush()


def run_gateway(config: Optional[Dict[str, Any]] = None, bin_dir: Optional[str] = None, restart: bool = True,
                stream: TextIO = sys.stdout, stop_event: Optional[threading.Event] = None) -> int:
    """Runs the gateway until SIGINT/SIGTERM (or stop_event). Returns the
    exit status: 0 after a requested stop, 1 when a child failed for good.
    Raises GatewayError for a missing binary or a taken port."""
    config = config or get_config()
    binaries = find_binaries(bin_dir or find_bin_dir(config))
    check_ports(config)
    out = LineWriter(stream)
    env = {**os.environ, **child_environment(config)}
    children = [Child(s, binaries[s], env, out) for s in SERVICES]
    stop = stop_event or threading.Event()
    reason: List[str] = []

    def on_signal(signum: int, frame: Any) -> None:
        reason.append(signal.Signals(signum).name)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    status = 0
    try:
        for child in children:
            child.start()
        host, port = edge_address(config)
        out.line("telegraphy", f"gateway started: router={config['ROUTER']} ingest={config['INGEST']} "
                               f"ingest_ack={config['INGEST_ACK']} ws=ws://{host}:{port}/ws "
                               f"pids={','.join(str(c.popen.pid) for c in children)}")
        while not stop.wait(0.1):
            now = time.monotonic()
            for child in children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restarts += 1
                        child.start()
                        out.line("telegraphy", f"{child.service} restarted pid={child.popen.pid}")
                    continue
                code = child.popen.poll()
                if code is None:
                    continue
                if code == EXIT_CONFIG_ERROR or not restart:
                    out.line("telegraphy", f"{child.service} exited with status {code}; stopping the gateway")
                    status = 1
                    stop.set()
                    break
                if now - child.started_at >= HEALTHY_AFTER:
                    child.backoff = BACKOFF_FIRST
                out.line("telegraphy", f"{child.service} exited with status {code}; restarting in "
                                       f"{child.backoff:.1f}s")
                child.restart_at = now + child.backoff
                child.backoff = min(child.backoff * 2, BACKOFF_MAX)
    finally:
        for child in reversed(children):
            child.stop()
        deadline = time.monotonic() + STOP_DEADLINE
        for child in reversed(children):
            if child.popen is None:
                continue
            try:
                child.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                out.line("telegraphy", f"{child.service} did not stop within {STOP_DEADLINE:.0f}s; killing it")
                child.popen.kill()
                child.popen.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        out.line("telegraphy", f"gateway stopped{' (' + reason[0] + ')' if reason else ''}")
    return status
