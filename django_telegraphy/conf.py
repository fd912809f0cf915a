"""Settings: one `TELEGRAPHY = {...}` dict, read through get_config().

The merged result (defaults + the project's dict) is cached; the cache is
cleared on Django's `setting_changed` signal (override_settings in tests) by
the receiver below, connected when this module is imported. This module
imports nothing else of the package: what was made from the settings (the
publisher's sockets) is forgotten by its own receiver, in its own module.
"""

import functools
from typing import Any, Dict

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: Dict[str, Any] = {
    # Shared with the gateway (TELEGRAPHY_SECRET): signs ws tokens. Required.
    "SECRET": None,
    # Fire-and-forget PUSH endpoint of the ingest (its PULL socket).
    "INGEST": "tcp://127.0.0.1:5560",
    # Acknowledged endpoint of the ingest (its ROUTER socket): guaranteed events.
    "INGEST_ACK": "tcp://127.0.0.1:5561",
    # Internal endpoints the `telegraphy` management command gives the gateway.
    "ROUTER": "tcp://127.0.0.1:5562",
    "CONTROL": "tcp://127.0.0.1:5563",
    # The router's monitor/tap PUB socket (telegraphy-ctl monitor, tap).
    "MONITOR": "tcp://127.0.0.1:5564",
    # What browsers connect to; rendered by {% telegraphy_scripts %}.
    "WS_URL": "ws://127.0.0.1:8765/ws",
    "REALM": "telegraphy",
    # Seconds a ws token is valid.
    "TOKEN_TTL": 60,
    # {"app_label.Model": {"fields": [...], "audience": "public"}} (see signals.py).
    "MODELS": {},
    # Where the gateway binaries live; None = build/bin of this repository when
    # found, else PATH.
    "BIN_DIR": None,
    # Messages the PUSH socket queues (its SNDHWM) before events are dropped.
    "QUEUE_SIZE": 10000,
    # Milliseconds a guaranteed send waits for ACCEPTED before raising.
    "ACK_TIMEOUT_MS": 2000,
    # Seconds between re-sends of every REGISTER from a publishing process
    # (0 = only on first send and on reconnect/unknown_event).
    "REGISTER_INTERVAL": 30,
    # Milliseconds queued events may take to flush when the process exits.
    "LINGER_MS": 1000,
    # Extra TELEGRAPHY_* environment for the gateway children of the
    # management command, e.g. {"TELEGRAPHY_LOG_LEVEL": "debug"}.
    "GATEWAY_ENV": {},
    # Whether sends are enabled at all (False: send() is a no-op, e.g. in tests).
    "ENABLED": True,
}


@functools.lru_cache(maxsize=None)
def get_config() -> Dict[str, Any]:
    """The effective configuration: DEFAULTS updated with settings.TELEGRAPHY.
    Unknown keys are kept (the system check W001 reports them). Cached until
    `setting_changed` fires for TELEGRAPHY."""
    user = getattr(settings, "TELEGRAPHY", None) or {}
    config = dict(DEFAULTS)
    if isinstance(user, dict):
        config.update(user)
    return config


def reload_config(*, setting: str, **kwargs: Any) -> None:
    """`setting_changed` receiver: forgets the cached configuration."""
    if setting == "TELEGRAPHY":
        get_config.cache_clear()


setting_changed.connect(reload_config, dispatch_uid="telegraphy:reload_config")
