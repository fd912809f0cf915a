#!/usr/bin/python3
"""Checks of the container deployment that need no Docker engine.

    checks.py structure CONFIG.yml    the resolved compose file: services,
                                      health checks, restart policies, no
                                      fixed host port on edge, postgres's
                                      data in a named volume
    checks.py endpoints CONFIG.yml    binds and connects agree: every connect
                                      names the owning service and its bind
                                      port; lb and nginx.conf agree on ports
    checks.py libraries DOCKERFILE BIN...
                                      every library ldd resolves for the
                                      binaries comes from a package the
                                      runtime stage installs
    checks.py dockerfile DOCKERFILE   stages, non-root users, COPY sources
                                      present and not excluded by .dockerignore
    checks.py websocket LB_PORT       a WAMP session through the balancer

Each prints what it found wrong on stderr and exits 1, or exits 0.
CONFIG.yml is `docker-compose config` output (anchors and merges resolved).
"""
import base64
import fnmatch
import functools
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "router", "edge", "lb", "demo", "postgres", "persist")
PGDATA = "/var/lib/postgresql/data"
RESTART_POLICIES = ("always", "unless-stopped", "on-failure")


def fail(problems):
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


def load(path):
    with open(path) as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict) or not isinstance(config.get("services"), dict):
        sys.exit(fail([f"{path}: no resolved configuration (did docker-compose config fail?)"]))
    return config


# --------------------------------------------------------------- structure
def check_structure(config_path):
    config = load(config_path)
    services = config.get("services", {})
    problems = []
    for name in SERVICES:
        service = services.get(name)
        if service is None:
            problems.append(f"service {name} missing")
            continue
        test = (service.get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"]:
            problems.append(f"service {name} has no healthcheck")
        restart = service.get("restart")
        if restart not in RESTART_POLICIES:
            problems.append(f"service {name}: restart is {restart!r}, want one of {RESTART_POLICIES}")
    edge = services.get("edge", {})
    if edge.get("ports"):
        problems.append(f"edge publishes host ports {edge['ports']}: `--scale edge=N` would collide")
    if edge.get("container_name"):
        problems.append("edge has a container_name: it cannot be scaled")
    if not (services.get("lb", {}).get("ports")):
        problems.append("lb publishes no host port: browsers cannot reach the edges")
    # The database outlives its container: a named volume at PGDATA.
    postgres = services.get("postgres", {})
    mounts = []
    for volume in postgres.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((volume.get("source"), volume.get("target"), volume.get("type", "volume")))
        else:
            parts = str(volume).split(":")
            if len(parts) >= 2:
                mounts.append((parts[0], parts[1], "bind" if parts[0].startswith(("/", ".")) else "volume"))
    named = [source for source, target, kind in mounts if target == PGDATA and kind == "volume"]
    if not named:
        problems.append(f"postgres keeps its data outside a named volume at {PGDATA} (found {mounts})")
    elif named[0] not in (config.get("volumes") or {}):
        problems.append(f"postgres's volume {named[0]} is not declared under volumes:")
    if postgres.get("ports"):
        problems.append(f"postgres publishes host ports {postgres['ports']}: only persist needs it")
    if str(postgres.get("stop_signal", "SIGTERM")) not in ("SIGINT", "2"):
        problems.append("postgres should stop on SIGINT (a fast shutdown; SIGTERM waits for persist)")
    persist_needs = (services.get("persist", {}).get("depends_on") or {})
    for needed in ("router", "postgres"):
        if needed not in persist_needs:
            problems.append(f"persist does not depend on {needed}")
    return fail(problems)


# --------------------------------------------------------------- endpoints
def _split(endpoint):
    match = re.fullmatch(r"tcp://([^:/]+):(\d+)", endpoint or "")
    return (match.group(1), match.group(2)) if match else (None, None)


def check_endpoints(config_path):
    services = load(config_path)["services"]
    env = {name: (service.get("environment") or {}) for name, service in services.items()}
    problems = []
    # variable -> the service that binds it
    owners = {
        "TELEGRAPHY_INGEST": "ingest",
        "TELEGRAPHY_INGEST_ACK": "ingest",
        "TELEGRAPHY_ROUTER": "router",
        "TELEGRAPHY_CONTROL": "router",
        "TELEGRAPHY_MONITOR": "router",
    }
    for variable, owner in owners.items():
        host, bind_port = _split(env.get(owner, {}).get(variable))
        if host != "*":
            problems.append(f"{owner} {variable}={env.get(owner, {}).get(variable)!r}: "
                            "want tcp://*:PORT (reachable from the other containers)")
            continue
        for name, variables in env.items():
            if name == owner or variable not in variables:
                continue
            chost, cport = _split(variables[variable])
            if (chost, cport) != (owner, bind_port):
                problems.append(f"{name} {variable}={variables[variable]!r}: "
                                f"want tcp://{owner}:{bind_port}")
    # Who needs which endpoint.
    needs = {
        "ingest": ["TELEGRAPHY_ROUTER"],
        "persist": ["TELEGRAPHY_ROUTER", "TELEGRAPHY_DATABASE_URL"],
        "postgres": ["POSTGRES_PASSWORD"],
        "edge": ["TELEGRAPHY_ROUTER", "TELEGRAPHY_SECRET"],
        "demo": ["TELEGRAPHY_INGEST", "TELEGRAPHY_INGEST_ACK", "TELEGRAPHY_SECRET"],
    }
    for name, variables in needs.items():
        for variable in variables:
            if not env.get(name, {}).get(variable):
                problems.append(f"{name} has no {variable}")
    # persist's database is the postgres service, with the password it was
    # given, on the port it exposes.
    url = env.get("persist", {}).get("TELEGRAPHY_DATABASE_URL", "")
    match = re.fullmatch(r"postgresql://([^:@/]+):([^@/]*)@([^:/]+):(\d+)/(\w+)", url)
    expose = [str(p) for p in services.get("postgres", {}).get("expose") or []]
    if not match:
        problems.append(f"persist TELEGRAPHY_DATABASE_URL={url!r}: want postgresql://USER:PASSWORD@postgres:PORT/DB")
    else:
        user, password, host, port, dbname = match.groups()
        if host != "postgres" or port not in expose:
            problems.append(f"persist's database is {host}:{port}, postgres exposes {expose}")
        if password != str(env.get("postgres", {}).get("POSTGRES_PASSWORD")):
            problems.append("persist's database password is not postgres's POSTGRES_PASSWORD")
        if (user, dbname) != ("telegraphy", "telegraphy"):
            problems.append(f"persist logs in as {user} to {dbname}: deploy/postgres.sh makes telegraphy/telegraphy")
    if env.get("edge", {}).get("TELEGRAPHY_EDGE_HOST") not in ("0.0.0.0", "*"):
        problems.append("edge TELEGRAPHY_EDGE_HOST must be 0.0.0.0 so the balancer reaches it")

    # The balancer: compose maps a host port to the port nginx listens on,
    # and nginx proxies to the edge's service name and port.
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    listens = re.findall(r"^\s*listen\s+(?:[\d.]+:)?(\d+)", nginx, re.M)
    targets = [str(p["target"]) if isinstance(p, dict) else str(p).rsplit(":", 1)[-1].split("/")[0]
               for p in services["lb"].get("ports", [])]
    if not listens or any(t not in listens for t in targets):
        problems.append(f"lb maps to container ports {targets}, nginx.conf listens on {listens}")
    upstream = re.search(r"set\s+\$telegraphy_edges\s+([\w.-]+):(\d+);", nginx)
    edge_port = str(env.get("edge", {}).get("TELEGRAPHY_EDGE_PORT", "8765"))
    if not upstream or upstream.groups() != ("edge", edge_port):
        problems.append(f"nginx.conf should proxy to edge:{edge_port} "
                        f"(found {upstream.group(0) if upstream else 'nothing'})")
    ws_url = env.get("demo", {}).get("TELEGRAPHY_WS_URL", "")
    lb_ports = services["lb"].get("ports") or [None]
    if isinstance(lb_ports[0], dict):  # the long syntax (docker compose v2)
        lb_host_port = str(lb_ports[0].get("published"))
    else:  # "[ADDR:]HOST:CONTAINER[/tcp]"
        lb_host_port = str(lb_ports[0]).split(":")[-2] if ":" in str(lb_ports[0]) else None
    if not ws_url.endswith(f":{lb_host_port}/ws"):
        problems.append(f"demo TELEGRAPHY_WS_URL={ws_url!r} is not the balancer's host port {lb_host_port}")
    return fail(problems)


# --------------------------------------------------------------- Dockerfile
def _logical_lines(dockerfile):
    """The Dockerfile's instructions, continuation lines joined, comments out."""
    lines, current = [], ""
    for raw in Path(dockerfile).read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and not current:
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _stages(dockerfile):
    """{stage name: [instructions]} in file order (unnamed stages by index)."""
    stages, name = {}, None
    for line in _logical_lines(dockerfile):
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            name = match.group(2) or str(len(stages))
            stages[name] = [line]
        elif name is not None:
            stages[name].append(line)
    return stages


def _apt_packages(instructions):
    packages = set()
    for line in instructions:
        if not line.upper().startswith("RUN"):
            continue
        for command in re.split(r"&&|;|\|\|", line[3:]):
            words = command.split()
            if "apt-get" in words and "install" in words:
                for word in words[words.index("install") + 1:]:
                    if not word.startswith("-"):
                        packages.add(word.split("=")[0])
    return packages


def _candidates(path):
    """The spellings dpkg may know a library by (usrmerge: /lib or /usr/lib)."""
    out = [path, os.path.realpath(path)]
    for candidate in list(out):
        if candidate.startswith("/usr/lib/"):
            out.append(candidate[4:])
        elif candidate.startswith("/lib/"):
            out.append("/usr" + candidate)
    return out


def _dpkg_owners(paths):
    """{path: package} for the library files, from one `dpkg -S` call."""
    spellings = {path: _candidates(path) for path in paths}
    everything = sorted({c for cs in spellings.values() for c in cs})
    result = subprocess.run(["dpkg", "-S", *everything], capture_output=True, text=True)
    found = {}
    for line in result.stdout.splitlines():
        if line.startswith("diversion ") or ": " not in line:
            continue
        packages, file = line.split(": ", 1)
        found[file.strip()] = packages.split(",")[0].split(":")[0].strip()
    return {path: next((found[c] for c in cs if c in found), None) for path, cs in spellings.items()}


def _depends(package, cache={}):
    if package not in cache:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package],
            capture_output=True, text=True)
        names = set()
        for alternative in result.stdout.split(","):
            for option in alternative.split("|"):
                name = option.strip().split(" ")[0].split(":")[0]
                if name:
                    names.add(name)
        cache[package] = names
    return cache[package]


def _closure(packages):
    seen, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        todo.extend(_depends(package) - seen)
    return seen


@functools.lru_cache(maxsize=None)
def _in_base_image(package):
    """Essential or Priority: required packages are in debian:bookworm-slim."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", package],
                            capture_output=True, text=True)
    return result.stdout.split()[:1] == ["yes"] or "required" in result.stdout.split()


def check_libraries(dockerfile, binaries):
    stages = _stages(dockerfile)
    if "runtime" not in stages:
        return fail([f"{dockerfile}: no stage named runtime"])
    listed = _apt_packages(stages["runtime"])
    closure = _closure(listed)
    problems = []
    found = []  # (binary name, soname, path, directly needed)
    for binary in binaries:
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
        if ldd.returncode != 0:
            problems.append(f"ldd {binary} failed: {ldd.stderr.strip()}")
            continue
        readelf = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
        needed = set(re.findall(r"\(NEEDED\).*\[(.+?)\]", readelf.stdout))
        for match in re.finditer(r"^\s*(\S+)\s+=>\s+(\S+)", ldd.stdout, re.M):
            soname, path = match.groups()
            if path == "not":
                problems.append(f"{binary}: {soname} not found on this machine")
            else:
                found.append((os.path.basename(binary), soname, path, soname in needed))
    owners = _dpkg_owners({path for _, _, path, _ in found})
    for name, soname, path, direct in found:
        package = owners[path]
        if package is None:
            problems.append(f"{name}: {path} belongs to no Debian package")
        elif direct and package not in listed:
            # What the binary links directly is named, not left to chance.
            problems.append(f"{name} needs {soname} ({package}): "
                            "add it to the runtime stage's apt-get install")
        elif package not in closure and not _in_base_image(package):
            problems.append(f"{name} loads {soname} ({package}), which no package of the "
                            "runtime stage depends on")
    return fail(problems)


# --------------------------------------------------------------- Dockerfile shape
def _dockerignored(path, patterns):
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, pattern.replace("**/", ""))
               for prefix in prefixes):
            ignored = not negate
    return ignored


def _apt_candidate(package):
    result = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    match = re.search(r"Candidate:\s*(\S+)", result.stdout)
    return match is not None and match.group(1) != "(none)"


def check_dockerfile(dockerfile):
    stages = _stages(dockerfile)
    problems = []
    want = {"build": "debian:bookworm", "lb": "debian:bookworm-slim",
            "postgres": "debian:bookworm-slim", "runtime": "debian:bookworm-slim"}
    for name, image in want.items():
        if name not in stages:
            problems.append(f"no stage {name}")
        elif stages[name][0].split()[1] != image:
            problems.append(f"stage {name} is {stages[name][0]}, want FROM {image}")
    if stages and list(stages)[-1] != "runtime":
        problems.append("runtime should be the last stage (the default target of `docker build .`)")
    for name in ("lb", "postgres", "runtime"):
        users = [line.split()[1] for line in stages.get(name, []) if line.upper().startswith("USER ")]
        if not users or users[-1] in ("root", "0"):
            problems.append(f"stage {name} runs as root (no USER, or USER root last)")
    build = " ".join(stages.get("build", []))
    if "make -j2 all" not in build or "npm ci" not in build:
        problems.append("the build stage should run npm ci and make -j2 all")
    runtime = " ".join(stages.get("runtime", []))
    if not re.search(r"COPY --from=build \S*build/bin/?\S* /usr/local/bin/", runtime):
        problems.append("the runtime stage should copy build/bin into /usr/local/bin")
    for needed in ("python3-django", "python3-zmq", "python3-msgpack"):
        if needed not in _apt_packages(stages.get("runtime", [])):
            problems.append(f"runtime stage lacks {needed} (the demo and django_telegraphy)")
    # Every package named exists in Debian bookworm (this machine's archive,
    # when its apt lists are there: a typo would fail only inside `docker build`).
    if _apt_candidate("libc6"):
        for name, lines in stages.items():
            for package in sorted(_apt_packages(lines)):
                if not _apt_candidate(package):
                    problems.append(f"stage {name}: apt-get install {package}: no such package here")
    # Every COPY from the build context exists and survives .dockerignore.
    ignore = ROOT / ".dockerignore"
    patterns = [l.strip() for l in ignore.read_text().splitlines()
                if l.strip() and not l.startswith("#")] if ignore.exists() else []
    for name, lines in stages.items():
        for line in lines:
            words = line.split()
            if words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
                continue
            for source in [w for w in words[1:-1] if not w.startswith("--")]:
                if not (ROOT / source).exists():
                    problems.append(f"stage {name}: COPY {source}: not in the repository")
                elif _dockerignored(source, patterns):
                    problems.append(f"stage {name}: COPY {source}: excluded by .dockerignore")
    for secret in (".env", "var/"):
        if not any(p.strip("/") == secret.strip("/") for p in patterns):
            problems.append(f".dockerignore should exclude {secret} (secrets, local state)")
    return fail(problems)


# --------------------------------------------------------------- WebSocket through nginx
def _http(port, request, deadline):
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                return data
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _ws_frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def check_websocket(port):
    port = int(port)
    problems = []
    deadline = time.monotonic() + 15
    reply = _http(port, b"GET /lb-healthz HTTP/1.0\r\n\r\n", deadline)
    if b" 200 " not in reply.split(b"\r\n", 1)[0]:
        problems.append(f"/lb-healthz: {reply[:80]!r}")
    # The edge's /healthz through the balancer, once the edge has its router.
    while True:
        reply = _http(port, b"GET /healthz HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n", deadline)
        if b"router: connected" in reply or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if b"router: connected" not in reply:
        problems.append(f"/healthz through the balancer: {reply[:200]!r}")
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((f"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                break
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status or b"wamp.2.json" not in head.lower():
            problems.append(f"WebSocket upgrade through the balancer: {head[:300]!r}")
            return fail(problems)
        sock.sendall(_ws_frame(json.dumps([1, "telegraphy", {"roles": {"subscriber": {}}}])))
        first, second = _recv_exact(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", _recv_exact(sock, 2))[0]
        elif length == 127:
            length = struct.unpack("!Q", _recv_exact(sock, 8))[0]
        message = json.loads(_recv_exact(sock, length))
        if first & 0x0F != 1 or message[0] != 2:
            problems.append(f"WAMP HELLO through the balancer got {message!r}, want WELCOME")
    return fail(problems)


def main(argv):
    commands = {
        "structure": check_structure,
        "endpoints": check_endpoints,
        "libraries": lambda dockerfile, *bins: check_libraries(dockerfile, bins),
        "dockerfile": check_dockerfile,
        "websocket": check_websocket,
    }
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
