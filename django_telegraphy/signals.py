"""Model CUD events: register_model() and TELEGRAPHY["MODELS"].

For a registered model `app_label.Model`, post_save and post_delete emit
`<app_label>.<model_name>.created`, `.updated` and `.deleted` (model_name is
the lower-case class name) after the transaction commits
(transaction.on_commit): a rolled-back change emits nothing. The data is
{"pk": ..., <each field>: ...}, taken when the signal fires (so a delete
still carries the old values). Fixture loading (raw saves) emits nothing.

Only per-instance signals exist in Django: QuerySet.update(), bulk_create(),
bulk_update() and raw SQL emit nothing; QuerySet.delete() does emit one
`.deleted` per row (Django sends post_delete for each deleted object, and
loads them to do so) and so does a cascade.
"""

from typing import Any, Callable, Dict, Iterable, List, Optional, Type

from django.apps import apps
from django.db import models
from django.db.models.signals import post_delete, post_save

from .events import PUBLIC, Event
from .exceptions import ImproperlyConfigured

ACTIONS = ("created", "updated", "deleted")

# label ("app_label.modelname") -> {"classes": {action: Event subclass}, "fields": [...], ...}
_models: Dict[str, Dict[str, Any]] = {}


def _default_fields(model: Type[models.Model]) -> List[str]:
    return [f.name for f in model._meta.concrete_fields]


def _value(instance: models.Model, name: str) -> Any:
    """A field's value without a query: a foreign key gives its raw id."""
    try:
        field = instance._meta.get_field(name)
    except Exception:  # noqa: BLE001 - not a model field: a property or attribute
        value = getattr(instance, name)
        return value() if callable(value) else value
    if getattr(field, "concrete", False):
        return getattr(instance, field.attname)
    return getattr(instance, name)


def event_name(model: Type[models.Model], action: str) -> str:
    """`<app_label>.<model_name>.<action>`, e.g. "blog.post.created"."""
    return f"{model._meta.app_label}.{model._meta.model_name}.{action}"


def register_model(model: Type[models.Model], fields: Optional[Iterable[str]] = None, audience: str = PUBLIC,
                   ttl: int = 0, guaranteed: bool = False,
                   to_users: Optional[Callable[[models.Model], Optional[Iterable[Any]]]] = None) -> Dict[str, type]:
    """Emits <app_label>.<model>.created|updated|deleted for model.

    fields: the attributes sent with each event (default: every concrete
    field; a foreign key sends its id); "pk" is always added. audience, ttl,
    guaranteed: as on Event. to_users: optional callable(instance) -> users
    (or None for everybody). Calling it again for the same model replaces
    the earlier registration. Returns {action: Event subclass}."""
    if isinstance(model, str):
        model = apps.get_model(model)
    names = list(fields) if fields is not None else _default_fields(model)
    for name in names:
        if not isinstance(name, str):
            raise ImproperlyConfigured(f"telegraphy: register_model({model.__name__}): field {name!r} is not a string")
    keys = sorted(set(["pk"] + names))
    classes = {}
    for action in ACTIONS:
        attrs = {"name": event_name(model, action), "fields": keys, "audience": audience, "ttl": ttl,
                 "guaranteed": guaranteed, "_telegraphy_replaceable": True, "__module__": model.__module__}
        classes[action] = type(f"{model.__name__}{action.capitalize()}Event", (Event,), attrs)
    label = model._meta.label_lower
    _models[label] = {"classes": classes, "fields": names, "to_users": to_users}
    post_save.connect(_on_save, sender=model, dispatch_uid=f"telegraphy:{label}:save", weak=False)
    post_delete.connect(_on_delete, sender=model, dispatch_uid=f"telegraphy:{label}:delete", weak=False)
    return classes


def unregister_model(model: Type[models.Model]) -> None:
    """Stops the CUD events of model (its event types stay declared)."""
    label = model._meta.label_lower
    _models.pop(label, None)
    post_save.disconnect(sender=model, dispatch_uid=f"telegraphy:{label}:save")
    post_delete.disconnect(sender=model, dispatch_uid=f"telegraphy:{label}:delete")


def _emit(instance: models.Model, action: str, using: Optional[str]) -> None:
    entry = _models.get(instance._meta.label_lower)
    if entry is None:
        return
    data = {"pk": instance.pk}
    for name in entry["fields"]:
        data[name] = _value(instance, name)
    event = entry["classes"][action](**data)
    users = entry["to_users"](instance) if entry["to_users"] else None
    users = None if users is None else list(users)
    event.send_on_commit(to_users=users, using=using)


def _on_save(sender: Any, instance: models.Model, created: bool, raw: bool = False, using: Optional[str] = None,
             **kwargs: Any) -> None:
    if raw:
        return
    _emit(instance, "created" if created else "updated", using)


def _on_delete(sender: Any, instance: models.Model, using: Optional[str] = None, **kwargs: Any) -> None:
    _emit(instance, "deleted", using)


def register_configured_models(config: Dict[str, Any]) -> None:
    """Applies TELEGRAPHY["MODELS"]: {"app_label.Model": {"fields": [...],
    "audience": ..., "ttl": ..., "guaranteed": ...}} (a list of labels means
    defaults). Unknown models and bad entries are skipped here; the system
    checks (E003, E004) report them."""
    entries = config.get("MODELS") or {}
    if isinstance(entries, (list, tuple)):
        entries = {label: {} for label in entries}
    if not isinstance(entries, dict):
        return
    for label, options in entries.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError, TypeError):
            continue
        options = options or {}
        try:
            register_model(model, fields=options.get("fields"), audience=options.get("audience", PUBLIC),
                           ttl=options.get("ttl", 0), guaranteed=options.get("guaranteed", False))
        except Exception:  # noqa: BLE001 - reported by checks.E004
            continue
