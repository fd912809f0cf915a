"""ws auth tokens (DESIGN §2.4):

    v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "v1." + payload_part))>

base64url without padding; the secret is TELEGRAPHY["SECRET"] as UTF-8. The
JSON is compact (no spaces), UTF-8 (non-ASCII not escaped), keys in the
order typ, sub, name, grp, exp, jti. Payload: typ "ws"; sub = the user's pk
as a string (absent for anonymous); name = username; grp = the user's group
names, plus "staff" / "superuser" for those flags; exp = unix seconds;
jti = 16 random bytes (128 bits), base64url. tests/fixtures/token_vectors.json
holds vectors the C side checks too.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Dict, Optional

from .conf import get_config
from .exceptions import ImproperlyConfigured, TelegraphyError

PREFIX = "v1"


class TokenError(TelegraphyError):
    """A token is malformed, wrongly signed or expired."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise TokenError("malformed token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed token") from None


def _secret(secret: Optional[str]) -> bytes:
    value = get_config().get("SECRET") if secret is None else secret
    if not value:
        raise ImproperlyConfigured('TELEGRAPHY["SECRET"] is not set: cannot sign tokens (system check telegraphy.E001)')
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def payload_json(payload: Dict[str, Any]) -> bytes:
    """The exact JSON bytes that are encoded (compact, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_payload(payload: Dict[str, Any], secret: Optional[str] = None) -> str:
    """The token for payload (a dict, encoded by payload_json())."""
    part = b64url_encode(payload_json(payload))
    mac = hmac.new(_secret(secret), f"{PREFIX}.{part}".encode("ascii"), hashlib.sha256).digest()
    return f"{PREFIX}.{part}.{b64url_encode(mac)}"


def user_payload(user: Any, ttl: Optional[int] = None, now: Optional[float] = None, typ: str = "ws",
                 jti: Optional[str] = None) -> Dict[str, Any]:
    """The payload of a token for user (a Django user, or None/anonymous)."""
    ttl = get_config()["TOKEN_TTL"] if ttl is None else ttl
    now = time.time() if now is None else now
    payload: Dict[str, Any] = {"typ": typ}
    if user is not None and getattr(user, "is_authenticated", False):
        groups = sorted(g.name for g in user.groups.all()) if hasattr(user, "groups") else []
        if getattr(user, "is_staff", False):
            groups.append("staff")
        if getattr(user, "is_superuser", False):
            groups.append("superuser")
        payload["sub"] = str(user.pk)
        payload["name"] = user.get_username()
        payload["grp"] = groups
    else:
        payload["grp"] = []
    payload["exp"] = int(now) + int(ttl)
    payload["jti"] = jti if jti is not None else b64url_encode(secrets.token_bytes(16))
    return payload


def ws_token(user: Any, ttl: Optional[int] = None, secret: Optional[str] = None) -> str:
    """A fresh, single-use ws token for user (valid TOKEN_TTL seconds unless
    ttl is given), signed with TELEGRAPHY["SECRET"]. An anonymous user (or
    None) gets a token without `sub`."""
    return sign_payload(user_payload(user, ttl=ttl), secret)


def verify_token(token: str, secret: Optional[str] = None, now: Optional[float] = None,
                 typ: Optional[str] = "ws") -> Dict[str, Any]:
    """Checks a token's form, signature (constant time), typ and expiry;
    returns its payload or raises TokenError. The gateway does the same in
    C; this one serves tests and tools."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise TokenError("malformed token")
    expected = hmac.new(_secret(secret), f"{PREFIX}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64url_decode(parts[2])):
        raise TokenError("bad signature")
    try:
        payload = json.loads(b64url_decode(parts[1]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TokenError("malformed payload") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise TokenError("malformed payload")
    if typ is not None and payload.get("typ") != typ:
        raise TokenError("wrong token type")
    if payload["exp"] <= (time.time() if now is None else now):
        raise TokenError("expired token")
    return payload
