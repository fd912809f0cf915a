"""django_telegraphy: push server-side events from Django to browsers.

    import django_telegraphy as telegraphy

    class OrderShipped(telegraphy.Event):
        name = "shop.order.shipped"
        fields = ["order_id", "carrier"]
        audience = telegraphy.AUTHENTICATED

    OrderShipped(order_id=7, carrier="dhl").send(to_users=[user])

See docs/django.md.
"""

from .events import AUTHENTICATED, PUBLIC, STAFF, Event, groups
from .exceptions import (EventDataError, EventDefinitionError, GatewayError, ImproperlyConfigured, TelegraphyDeliveryError,
                         TelegraphyError)
from .signals import register_model, unregister_model
from .tokens import verify_token, ws_token

__version__ = "0.1.0"

__all__ = [
    "Event", "PUBLIC", "AUTHENTICATED", "STAFF", "groups", "register_model", "unregister_model",
    "ws_token", "verify_token", "TelegraphyError", "TelegraphyDeliveryError", "EventDataError",
    "EventDefinitionError", "ImproperlyConfigured", "GatewayError",
]
