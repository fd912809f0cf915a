"""The registry of declared event types (Event subclasses with a name).

Event.__init_subclass__ adds each class here; the publisher sends one
REGISTER per entry to the gateway (publisher.py says when).
"""

import threading
from typing import Dict, List, Optional, Type

from .exceptions import EventDefinitionError

_lock = threading.Lock()
_types: Dict[str, type] = {}
_version = 0  # bumped on every change, so the publisher skips its scan when nothing changed


def version() -> int:
    """A number that changes whenever a type is added, replaced or removed."""
    return _version


def add(event_class: type) -> None:
    """Records event_class under its name. A second, different class with the
    same name is an error, except a re-declaration of the same module and
    qualified name (module reload), which replaces the old one."""
    name = event_class.name
    with _lock:
        old = _types.get(name)
        if old is not None and old is not event_class:
            same = (old.__module__, old.__qualname__) == (event_class.__module__, event_class.__qualname__)
            if not same and not getattr(old, "_telegraphy_replaceable", False):
                raise EventDefinitionError(
                    f"event name {name!r} is declared twice: {old.__module__}.{old.__qualname__} and "
                    f"{event_class.__module__}.{event_class.__qualname__}")
        _types[name] = event_class
        global _version
        _version += 1


def get(name: str) -> Optional[type]:
    """The class declared under name, or None."""
    with _lock:
        return _types.get(name)


def all_types() -> List[Type]:
    """Every declared event class, sorted by name."""
    with _lock:
        return [_types[k] for k in sorted(_types)]


def remove(name: str) -> None:
    """Forgets a name (tests)."""
    global _version
    with _lock:
        _types.pop(name, None)
        _version += 1
