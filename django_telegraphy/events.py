"""Event classes (DESIGN §2.5).

    class OrderShipped(telegraphy.Event):
        name = "shop.order.shipped"
        fields = ["order_id", "carrier"]
        audience = telegraphy.AUTHENTICATED
        ttl = 300
        guaranteed = True

    OrderShipped(order_id=7, carrier="dhl").send(to_users=[user])

The declaration is checked when the class statement runs (a bad name,
audience, ttl or field list raises EventDefinitionError at import time), the
data when the event is made (missing or unknown keys raise EventDataError
naming them) and when it is sent (values: serialization.py).
"""

import re
from typing import Any, Dict, Iterable, List, Optional

from . import publisher, registry
from .exceptions import EventDataError, EventDefinitionError
from .serialization import pack_body

PUBLIC = "public"
AUTHENTICATED = "authenticated"
STAFF = "staff"

MAX_NAME = 512
MAX_FIELDS = 256
MAX_FIELD = 128
MAX_TTL = 31536000
MAX_USERS = 10000
MAX_USER_ID = 128

_URI_COMPONENT = re.compile(r"^[0-9a-z_]+$")
_GROUP = re.compile(r"^[\x21-\x7e]{1,128}$")


def groups(name: str) -> str:
    """The audience "members of group `name`" (Django auth group name:
    printable ASCII without spaces, at most 128 characters)."""
    if not isinstance(name, str) or not _GROUP.match(name):
        raise EventDefinitionError(f"group name {name!r} must be 1..128 printable ASCII characters without spaces")
    return f"group:{name}"


def is_strict_uri(name: Any) -> bool:
    """True when name is a strict WAMP URI: components of [0-9a-z_] joined by
    ".", none empty, at most 512 bytes (what the gateway accepts)."""
    return (isinstance(name, str) and 0 < len(name.encode()) <= MAX_NAME
            and all(_URI_COMPONENT.match(c) for c in name.split(".")))


def is_audience(value: Any) -> bool:
    """True for PUBLIC, AUTHENTICATED, STAFF or groups(NAME)."""
    if value in (PUBLIC, AUTHENTICATED, STAFF):
        return True
    return isinstance(value, str) and value.startswith("group:") and bool(_GROUP.match(value[6:]))


def _check_declaration(cls: type) -> None:
    where = f"{cls.__module__}.{cls.__qualname__}"
    if not is_strict_uri(cls.name):
        raise EventDefinitionError(
            f"{where}.name = {cls.name!r} is not a strict WAMP URI (components of [0-9a-z_] joined by '.', "
            f"none empty, at most {MAX_NAME} bytes), e.g. 'shop.order.shipped'")
    if cls.fields is not None:
        if isinstance(cls.fields, str) or not isinstance(cls.fields, (list, tuple, set, frozenset)):
            raise EventDefinitionError(f"{where}.fields must be a list of key names or None (any keys)")
        bad = [f for f in cls.fields if not isinstance(f, str) or not 0 < len(f.encode()) <= MAX_FIELD or "\0" in f]
        if bad:
            raise EventDefinitionError(f"{where}.fields: invalid key names {bad!r} (1..{MAX_FIELD} bytes, no NUL)")
        if len(set(cls.fields)) > MAX_FIELDS:
            raise EventDefinitionError(f"{where}.fields: more than {MAX_FIELDS} keys")
        cls.fields = sorted(set(cls.fields))
    # The set every event's keys are compared with: made once, here.
    cls._field_set = None if cls.fields is None else frozenset(cls.fields)
    if not is_audience(cls.audience):
        raise EventDefinitionError(
            f"{where}.audience = {cls.audience!r}: use telegraphy.PUBLIC, AUTHENTICATED, STAFF or groups('name')")
    if isinstance(cls.ttl, bool) or not isinstance(cls.ttl, int) or not 0 <= cls.ttl <= MAX_TTL:
        raise EventDefinitionError(f"{where}.ttl = {cls.ttl!r}: an integer number of seconds in 0..{MAX_TTL}")
    for flag in ("guaranteed", "client_publish"):
        if not isinstance(getattr(cls, flag), bool):
            raise EventDefinitionError(f"{where}.{flag} must be True or False")


def user_id(user: Any) -> str:
    """The string a user is known by in to_users and tokens (`sub`/authid):
    str(user.pk) for a model instance, else str(user)."""
    pk = getattr(user, "pk", None)
    text = str(pk) if pk is not None else str(user)
    if not 0 < len(text) <= MAX_USER_ID or "\0" in text:
        raise EventDataError(f"user id {text!r} must be 1..{MAX_USER_ID} characters")
    return text



class Event:
    """Base class of event types. Subclasses set `name` (required, a strict
    WAMP URI), `fields` (exact payload keys; None = any keys), `audience`,
    `ttl` (seconds), `guaranteed` and `client_publish`. A subclass without a
    name is abstract (a base for others) and is not registered."""

    name: Optional[str] = None
    fields: Optional[List[str]] = None
    audience: str = PUBLIC
    ttl: int = 0
    guaranteed: bool = False
    client_publish: bool = False
    _field_set: Optional[frozenset] = None  # frozenset(fields), set by _check_declaration

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            if cls.name is not None:
                raise EventDefinitionError(
                    f"{cls.__module__}.{cls.__qualname__} inherits name {cls.name!r}: each event class declares "
                    f"its own name (set name = None for an abstract base)")
            return
        if cls.name is None:
            return
        _check_declaration(cls)
        registry.add(cls)

    def __init__(self, **data: Any) -> None:
        cls = type(self)
        if cls.name is None:
            raise EventDefinitionError(f"{cls.__qualname__} has no name: declare a subclass with one")
        if cls._field_set is not None and data.keys() != cls._field_set:
            missing = sorted(cls._field_set - data.keys())
            unknown = sorted(data.keys() - cls._field_set)
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown {', '.join(unknown)}")
            raise EventDataError(f"{cls.name}: {'; '.join(parts)} (fields are {', '.join(cls.fields) or 'none'})")
        self.data: Dict[str, Any] = data

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.name} {self.data!r}>"

    @classmethod
    def type_map(cls) -> Dict[str, Any]:
        """The event-type map of REGISTER (docs/protocol.md)."""
        t: Dict[str, Any] = {"name": cls.name, "audience": cls.audience, "ttl": cls.ttl,
                             "guaranteed": cls.guaranteed, "client_publish": cls.client_publish}
        if cls.fields is not None:
            t["fields"] = list(cls.fields)
        return t

    def body(self) -> bytes:
        """The msgpack body (serialization.py). Raises EventDataError."""
        return pack_body(self.data)

    def send(self, to_users: Optional[Iterable[Any]] = None) -> Any:
        """Publishes the event now. to_users: users (or ids) who may receive
        it; None = everybody the audience allows, [] = nobody.

        Non-guaranteed: never blocks; returns True when queued, False when
        dropped (queue full: counted and logged). Guaranteed: waits for the
        ingest's answer (ACK_TIMEOUT_MS) and returns the publication id, or
        raises TelegraphyDeliveryError."""
        return self._publish(to_users, None)

    def _publish(self, to_users: Optional[Iterable[Any]], body: Optional[bytes]) -> Any:
        """send() with the body already packed (None: pack it now)."""
        users = None if to_users is None else [user_id(u) for u in to_users]
        if users is not None and len(users) > MAX_USERS:
            raise EventDataError(f"{self.name}: to_users holds more than {MAX_USERS} users")
        return publisher.get_publisher().publish(type(self), self.body() if body is None else body, users)


    def send_on_commit(self, to_users: Optional[Iterable[Any]] = None, using: Optional[str] = None) -> None:
        """send() once the current transaction commits (at once outside one);
        nothing is sent if it rolls back. The body is serialized now, so a
        bad value raises here."""
        from django.db import transaction

        body = self.body()
        transaction.on_commit(lambda: self._publish(to_users, body), using=using)
