"""The exceptions of django_telegraphy: one base class, so callers can catch
everything this package raises with `except telegraphy.TelegraphyError`."""

from django.core import exceptions as django_exceptions


class TelegraphyError(Exception):
    """Base class of every error raised by django_telegraphy."""


class ImproperlyConfigured(TelegraphyError, django_exceptions.ImproperlyConfigured):
    """The TELEGRAPHY setting is missing something or holds a bad value.
    Also Django's ImproperlyConfigured, so code (and Django itself) that
    catches that one catches this one."""


class EventDefinitionError(TelegraphyError, TypeError):
    """An Event subclass is declared wrongly (name, fields, audience, ttl ...).
    Raised when the class statement runs, i.e. at import time."""


class EventDataError(TelegraphyError, TypeError):
    """An Event was instantiated with missing or unknown keys, or a value
    that cannot be serialized. The message names the keys."""


class TelegraphyDeliveryError(TelegraphyError):
    """A guaranteed event was not accepted by the gateway: the ingest
    answered REJECTED (`error` holds its URI) or did not answer in time
    (`error` is "timeout")."""

    def __init__(self, message: str, error: str = "", event: str = ""):
        super().__init__(message)
        self.error = error
        self.event = event


class GatewayError(TelegraphyError):
    """The gateway processes could not be started or kept running (the
    `telegraphy` management command)."""
