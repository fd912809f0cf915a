"""ASGI entry point: daphne benchsite.asgi:application. WebSocket /ws only
(no origin check: the load client sends no Origin header)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from .consumers import BenchConsumer  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": URLRouter([re_path(r"^ws/?$", BenchConsumer.as_asgi())]),
})
