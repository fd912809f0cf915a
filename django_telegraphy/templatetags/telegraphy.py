"""{% load telegraphy %}{% telegraphy_scripts %}

Renders, in this order:
  <script src="{static}/telegraphy/autobahn.min.js"></script>
  <script id="telegraphy-config" type="application/json">{"url": ..., "realm": ..., "token": ...}</script>
  <script type="module" src="{static}/telegraphy/telegraphy.js"></script>
The config JSON is escaped like Django's json_script (<, >, & as \\uXXXX),
so no value can close the script element. token is a fresh ws token for
request.user, or null for an anonymous user (or no request in the context);
token_url the token view when django_telegraphy.urls is routed, else null.
"""

from typing import Any, Dict

from django import template
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, json_script

from ..conf import get_config
from ..tokens import ws_token

register = template.Library()


def page_config(request: Any) -> Dict[str, Any]:
    """What telegraphy.js's Telegraphy.fromPage() reads. token_url is the
    token view (django_telegraphy.urls) when the site routes it, else null:
    the client then cannot renew a refused token without a reload."""
    config = get_config()
    user = getattr(request, "user", None)
    token = ws_token(user) if user is not None and getattr(user, "is_authenticated", False) else None
    try:
        token_url = reverse("telegraphy:token")
    except NoReverseMatch:
        token_url = None
    return {"url": config["WS_URL"], "realm": config["REALM"], "token": token, "token_url": token_url}


@register.simple_tag(takes_context=True)
def telegraphy_scripts(context: Any) -> str:
    config = json_script(page_config(context.get("request")), "telegraphy-config")
    return format_html('<script src="{}"></script>\n{}\n<script type="module" src="{}"></script>',
                       static("telegraphy/autobahn.min.js"), config, static("telegraphy/telegraphy.js"))
