"""System checks (`manage.py check`), ids stable:

telegraphy.E001  TELEGRAPHY["SECRET"] missing or empty
telegraphy.E002  malformed endpoint (INGEST, INGEST_ACK, ROUTER, CONTROL, WS_URL)
telegraphy.E003  unknown model in TELEGRAPHY["MODELS"]
telegraphy.E004  bad entry in TELEGRAPHY["MODELS"] (fields, audience, ttl)
telegraphy.E005  TELEGRAPHY is not a dict, or a numeric setting out of range
telegraphy.W001  unknown key in TELEGRAPHY (a typo?)
telegraphy.W002  SECRET shorter than 32 characters
telegraphy.W003  BIN_DIR set but not a directory
telegraphy.W004  (deploy) the ingest endpoint does not accept connections
"""

import os
import re
import socket
from typing import Any, List, Optional
from urllib.parse import urlparse

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import DEFAULTS, get_config
from .events import MAX_TTL, is_audience, is_strict_uri

ZMQ_ENDPOINTS = ("INGEST", "INGEST_ACK", "ROUTER", "CONTROL")
_TCP = re.compile(r"^tcp://(?P<host>[^:/\s]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5}|\*)$")


def parse_tcp(endpoint: Any) -> Optional[tuple]:
    """(host, port) of "tcp://HOST:PORT", or None."""
    m = _TCP.match(endpoint) if isinstance(endpoint, str) else None
    if not m or m.group("port") == "*":
        return None
    port = int(m.group("port"))
    return (m.group("host").strip("[]"), port) if 0 < port < 65536 else None


def endpoint_ok(endpoint: Any) -> bool:
    """True for tcp://HOST:PORT (1..65535 or *), ipc://PATH, inproc://NAME."""
    if not isinstance(endpoint, str):
        return False
    if endpoint.startswith(("ipc://", "inproc://")):
        return len(endpoint.split("://", 1)[1]) > 0
    m = _TCP.match(endpoint)
    return bool(m) and (m.group("port") == "*" or 0 < int(m.group("port")) < 65536)


def ws_url_ok(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    try:
        u = urlparse(url)
        u.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return u.scheme in ("ws", "wss") and bool(u.hostname)


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> List[Any]:
    errors: List[Any] = []
    raw = getattr(settings, "TELEGRAPHY", None)
    if raw is not None and not isinstance(raw, dict):
        return [Error("TELEGRAPHY must be a dict.", hint='TELEGRAPHY = {"SECRET": "...", ...}', id="telegraphy.E005")]
    config = get_config()
    secret = config.get("SECRET")
    if not secret or not isinstance(secret, str):
        errors.append(Error(
            'TELEGRAPHY["SECRET"] is missing: the ws tokens cannot be signed.',
            hint='Set TELEGRAPHY["SECRET"] to the same value as the gateway\'s TELEGRAPHY_SECRET, e.g. from '
                 'os.environ["TELEGRAPHY_SECRET"]; generate one with `python3 -c "import secrets; '
                 'print(secrets.token_urlsafe(32))"`.', id="telegraphy.E001"))
    elif len(secret) < 32:
        errors.append(Warning('TELEGRAPHY["SECRET"] is shorter than 32 characters.',
                              hint="Use secrets.token_urlsafe(32) or longer.", id="telegraphy.W002"))
    for key in ZMQ_ENDPOINTS:
        if not endpoint_ok(config.get(key)):
            errors.append(Error(
                f'TELEGRAPHY["{key}"] = {config.get(key)!r} is not a ZeroMQ endpoint.',
                hint=f'Use tcp://HOST:PORT (default {DEFAULTS[key]}), ipc://PATH or inproc://NAME.',
                id="telegraphy.E002"))
    if not ws_url_ok(config.get("WS_URL")):
        errors.append(Error(f'TELEGRAPHY["WS_URL"] = {config.get("WS_URL")!r} is not a ws:// or wss:// URL.',
                            hint=f'e.g. {DEFAULTS["WS_URL"]}', id="telegraphy.E002"))
    for key in ("QUEUE_SIZE", "TOKEN_TTL", "ACK_TIMEOUT_MS"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(Error(f'TELEGRAPHY["{key}"] = {value!r} must be a positive integer.',
                                hint=f"default {DEFAULTS[key]}", id="telegraphy.E005"))
    errors.extend(_check_models(config.get("MODELS")))
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        errors.append(Warning(f"TELEGRAPHY has unknown keys: {', '.join(unknown)}.",
                              hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.", id="telegraphy.W001"))
    bin_dir = config.get("BIN_DIR")
    if bin_dir and not os.path.isdir(bin_dir):
        errors.append(Warning(f'TELEGRAPHY["BIN_DIR"] = {bin_dir!r} is not a directory.',
                              hint="Point it at the directory holding telegraphy-router, -ingest and -edge, "
                                   "or set it to None to use PATH.", id="telegraphy.W003"))
    return errors


def _check_models(models: Any) -> List[Any]:
    errors: List[Any] = []
    if not models:
        return errors
    if isinstance(models, (list, tuple)):
        models = {label: {} for label in models}
    if not isinstance(models, dict):
        return [Error('TELEGRAPHY["MODELS"] must be a dict {"app_label.Model": {...}} or a list of labels.',
                      id="telegraphy.E004")]
    for label, options in models.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError, TypeError):
            errors.append(Error(f'TELEGRAPHY["MODELS"] names an unknown model {label!r}.',
                                hint='Use "app_label.ModelName" of an installed app.', id="telegraphy.E003"))
            continue
        name = f"{model._meta.app_label}.{model._meta.model_name}.created"
        if not is_strict_uri(name):
            errors.append(Error(f'TELEGRAPHY["MODELS"][{label!r}]: the event names ({name} ...) are not strict WAMP '
                                f'URIs.', hint="App labels and model names must be made of [0-9a-z_].",
                                id="telegraphy.E004"))
            continue
        options = options or {}
        if not isinstance(options, dict):
            errors.append(Error(f'TELEGRAPHY["MODELS"][{label!r}] must be a dict of options.', id="telegraphy.E004"))
            continue
        fields = options.get("fields")
        if fields is not None:
            if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
                errors.append(Error(f'TELEGRAPHY["MODELS"][{label!r}]["fields"] must be a list of names.',
                                    id="telegraphy.E004"))
            else:
                missing = [f for f in fields if not isinstance(f, str) or not hasattr(model, f) and
                           f not in {x.name for x in model._meta.get_fields()}]
                if missing:
                    errors.append(Error(f'TELEGRAPHY["MODELS"][{label!r}]: {model.__name__} has no fields '
                                        f'{", ".join(map(str, missing))}.', id="telegraphy.E004"))
        if "audience" in options and not is_audience(options["audience"]):
            errors.append(Error(f'TELEGRAPHY["MODELS"][{label!r}]["audience"] = {options["audience"]!r} is invalid.',
                                hint='"public", "authenticated", "staff" or "group:NAME"', id="telegraphy.E004"))
        ttl = options.get("ttl", 0)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
            errors.append(Error(f'TELEGRAPHY["MODELS"][{label!r}]["ttl"] must be an integer in 0..{MAX_TTL}.',
                                id="telegraphy.E004"))
    return errors


@register(Tags.compatibility, deploy=True)
def check_ingest_reachable(app_configs: Any = None, **kwargs: Any) -> List[Any]:
    """Deploy only (`check --deploy`): can we open a TCP connection to the
    ingest? Not an error: the gateway may start after Django."""
    config = get_config()
    target = parse_tcp(config.get("INGEST"))
    if target is None:
        return []
    try:
        with socket.create_connection(target, timeout=0.5):
            return []
    except OSError as e:
        return [Warning(f'The ingest at {config["INGEST"]} does not accept connections ({e.strerror or e}).',
                        hint="Start the gateway (`python manage.py telegraphy` or `make gateway`); events sent "
                             "meanwhile are queued up to QUEUE_SIZE, then dropped.", id="telegraphy.W004")]
