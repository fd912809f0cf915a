"""Event data -> msgpack, by one documented rule (docs/django.md, "Values").

| Python value                        | sent as                                   |
|-------------------------------------|-------------------------------------------|
| None, bool, int (int64), float, str | themselves (float must be finite)         |
| bytes, bytearray, memoryview        | msgpack bin                               |
| datetime.datetime                   | ISO 8601 string with offset; a naive value|
|                                     | is read in Django's default time zone     |
| datetime.date                       | "YYYY-MM-DD"                              |
| datetime.time                       | ISO 8601 string (offset only when aware)  |
| decimal.Decimal                     | its string, e.g. "12.50" (no float loss)  |
| uuid.UUID                           | its canonical string                      |
| model instance                      | its pk (by the same rule)                 |
| lazy string (gettext_lazy)          | str(value)                                |
| list, tuple                         | list                                      |
| set, frozenset                      | list (sorted when the items sort)         |
| dict with str keys                  | map                                       |
Anything else, a non-str dict key, an integer outside int64, NaN or
infinity raises EventDataError (a TypeError) naming the field path,
e.g. "field 'order.items[2]': cannot serialize object of type Foo".
"""

import datetime
import decimal
import math
import uuid
from typing import Any, Dict

import msgpack
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise

from .exceptions import EventDataError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DEPTH = 32  # TG_BODY_MAX_DEPTH: the ingest refuses deeper bodies


def _fail(path: str, why: str) -> EventDataError:
    return EventDataError(f"field {path!r}: {why}")


def to_wire(value: Any, path: str, depth: int = 1) -> Any:
    """Converts one value to msgpack-native types by the module's rule.
    path names the value in errors."""
    if depth > MAX_DEPTH:
        raise _fail(path, f"nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _fail(path, "integer outside the 64-bit signed range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(path, "NaN and infinity cannot be sent")
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Promise):
        return str(value)
    # datetime before date: datetime is a date subclass.
    if isinstance(value, datetime.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_default_timezone())
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return to_wire(value.pk, path, depth)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, Promise):
                key = str(key)
            if not isinstance(key, str):
                raise _fail(path, f"map key {key!r} is not a string")
            out[str(key)] = to_wire(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [to_wire(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [to_wire(item, f"{path}[]", depth + 1) for item in value]
        try:
            items.sort()
        except TypeError:
            pass  # mixed types: any order
        return items
    raise _fail(path, f"cannot serialize object of type {type(value).__name__}")


def _is_plain(value: Any) -> bool:
    """True for a value msgpack takes as it is and to_wire() would return
    unchanged: a str, bool, None, a finite float or a 64-bit int (exact
    types; subclasses such as lazy strings and enums take the long way)."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return INT64_MIN <= value <= INT64_MAX
    return t is float and math.isfinite(value)


def pack_body(data: Dict[str, Any]) -> bytes:
    """The msgpack body of an event: a map of its fields converted by
    to_wire(). Raises EventDataError naming the first bad field.
    Keys are strings (they come from keyword arguments). When every value
    is plain (_is_plain), the map is packed as it is: no converted copy,
    so send() allocates less and CPython's collector runs less often."""
    for value in data.values():
        if not _is_plain(value):
            break
    else:
        return msgpack.packb(data, use_bin_type=True)
    body = {}
    for key, value in data.items():
        body[key] = to_wire(value, key)
    return msgpack.packb(body, use_bin_type=True)


def pack(value: Any) -> bytes:
    """msgpack of an already wire-safe value (headers)."""
    return msgpack.packb(value, use_bin_type=True)
