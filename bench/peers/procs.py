"""Process plumbing shared by the bench's systems: free loopback ports,
waiting by condition with a deadline, starting a server process with its
output in a log file, stopping it by PID (SIGTERM, then SIGKILL at a
deadline), and reading its RSS and CPU time from /proc.

Nothing here sleeps to synchronise: every wait polls a condition and gives up
at a deadline with a TimeoutError that says what it waited for.
"""

import os
import resource
import signal
import socket
import subprocess
import sys
import time

# free_ports and wait_for are the integration tests' (tests/integration/
# gateway.py): one implementation for the tests and the bench.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
from gateway import free_ports, wait_for  # noqa: E402,F401 - re-exported: procs.free_ports, procs.wait_for

CLK_TCK = os.sysconf("SC_CLK_TCK")


def port_open(port, host="127.0.0.1"):
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def raise_nofile():
    """preexec_fn: the child may open as many files as the hard limit allows
    (10,000 WebSockets need more than the usual soft limit of 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def read_stat(pid):
    """(ppid, utime+stime in seconds) of pid from /proc/<pid>/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after
    # its last ')'. Then state is field 3, ppid 4, utime 14, stime 15.
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK


def exited(pid):
    """True when pid has exited (gone, or a zombie not yet reaped): lets a
    caller watch a child without reaping it, so os.wait4 can still collect
    its rusage."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return True
    return text[text.rindex(")") + 2:].split()[0] in ("Z", "X")


def cpu_s(pid):
    """utime+stime of pid in seconds (0.0 once it is gone)."""
    st = read_stat(pid)
    return st[1] if st else 0.0


def rss_kib(pid):
    """VmRSS of pid in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    """PIDs whose parent is pid (nginx's workers, for instance)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st and st[0] == pid:
                out.append(int(name))
    return sorted(out)


class Proc:
    """One server process: started with stdout/stderr into log_path, stopped
    by its PID. problems collects what went wrong (exited on its own, needed
    SIGKILL) for the run's notes."""

    def __init__(self, name, args, log_path, env=None, cwd=None):
        self.name, self.args, self.log_path, self.env, self.cwd = name, args, log_path, env, cwd
        self.popen = None
        self.problems = []
        self._stopped = False

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def start(self):
        if not os.path.exists(self.args[0]):
            raise FileNotFoundError(f"{self.args[0]} is missing")
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          env=self.env, cwd=self.cwd, preexec_fn=raise_nofile)
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self):
        """Raises when the process has exited (used inside readiness probes)."""
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}: {self.tail()}")
        return True

    def tail(self, lines=8):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return " | ".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, deadline=10.0, sig=signal.SIGTERM):
        """SIGTERM by PID, wait up to deadline, then SIGKILL. Safe twice."""
        if self.popen is None or self._stopped:
            return
        self._stopped = True
        if self.popen.poll() is not None:
            if self.popen.returncode not in (0, -signal.SIGTERM):
                self.problems.append(f"{self.name} exited on its own: code={self.popen.returncode}")
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(deadline)
        except subprocess.TimeoutExpired:
            self.problems.append(f"{self.name} did not exit within {deadline:.0f}s of SIGTERM; killed")
            self.popen.kill()
            self.popen.wait(5)


def run_bounded(args, timeout, env=None, cwd=None, stdout_path=None, stderr_path=None):
    """Runs a client process to completion within timeout seconds (SIGTERM,
    then SIGKILL 5 s later, when it overruns). Returns (returncode, stdout
    text, cpu seconds of the child from its rusage, timed_out)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
    err = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL
    try:
        popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
                                 preexec_fn=raise_nofile)
        status, usage, timed_out = wait_rusage(popen, timeout)
        text = popen.stdout.read().decode("utf-8", "replace") if popen.stdout else ""
        if popen.stdout:
            popen.stdout.close()
    finally:
        if stdout_path:
            out.close()
        if stderr_path:
            err.close()
    cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
    if stdout_path:
        with open(stdout_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    return status, text, cpu, timed_out


def wait_rusage(popen, timeout, term_grace=5.0):
    """Waits for popen's exit with os.wait4 (to get its own rusage), sending
    SIGTERM at timeout and SIGKILL term_grace later. Returns (exit status as
    Popen would, rusage or None, whether it overran). Output must go to a
    file or be small (a PIPE is read only after exit)."""
    deadline = time.monotonic() + timeout
    timed_out = False
    signalled = None
    while True:
        pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
        if pid == popen.pid:
            code = os.waitstatus_to_exitcode(status)
            popen.returncode = code
            return code, usage, timed_out
        now = time.monotonic()
        if now >= deadline and signalled is None:
            timed_out = True
            popen.send_signal(signal.SIGTERM)
            signalled = now
        elif signalled is not None and now - signalled >= term_grace:
            popen.kill()
            signalled = float("inf")
        time.sleep(0.02)
