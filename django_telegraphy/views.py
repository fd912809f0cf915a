"""The token view: a fresh ws token for the logged-in user.

telegraphy.js calls it (through `onTokenExpired`, wired by
Telegraphy.fromPage() from the page config's `token_url`) when the gateway
refused the token it had: the page token is single-use and short-lived, and
a resume token expires, so a long-lived page needs a way to get a new one
without a reload. Include `django_telegraphy.urls` to route it.
"""

from typing import Any

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .tokens import ws_token


@never_cache
@require_GET
def token(request: Any) -> JsonResponse:
    """{"token": "<ws token>"} for an authenticated user, {"token": null}
    for an anonymous one (who then connects anonymously). The session
    cookie authenticates the request, like any other view of the site; the
    token is useless without it being presented within its TTL, once."""
    user = getattr(request, "user", None)
    value = ws_token(user) if user is not None and getattr(user, "is_authenticated", False) else None
    return JsonResponse({"token": value})
