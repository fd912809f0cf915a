"""Settings of the Telegraphy demo: a live board (docs/demo.md).

Local development only: DEBUG on, SQLite, loopback hosts. Everything that
changes between `make run` and the browser test comes from the environment:

  TELEGRAPHY_SECRET       shared with the gateway; unset -> var/secret, the
                          file scripts/gateway.sh creates (make run)
  TELEGRAPHY_INGEST       ingest PUSH endpoint      (tcp://127.0.0.1:5560)
  TELEGRAPHY_INGEST_ACK   ingest ack endpoint       (tcp://127.0.0.1:5561)
  TELEGRAPHY_WS_URL       the browsers' WebSocket   (ws://127.0.0.1:$TELEGRAPHY_EDGE_PORT/ws)
  TELEGRAPHY_EDGE_PORT    edge port, when TELEGRAPHY_WS_URL is unset (8765)
  TELEGRAPHY_BIN_DIR      gateway binaries for `manage.py telegraphy` (PATH)
  DEMO_DATABASE           SQLite file               (var/demo.sqlite3)
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # demo/
REPO_ROOT = BASE_DIR.parent
VAR_DIR = REPO_ROOT / "var"


def _telegraphy_secret() -> str:
    """The gateway's secret: the environment, else var/secret (make run)."""
    secret = os.environ.get("TELEGRAPHY_SECRET", "")
    if secret:
        return secret
    try:
        return (VAR_DIR / "secret").read_text().strip()
    except OSError:
        return ""  # django_telegraphy's system check names the problem


def _secret_key() -> str:
    """DEMO_SECRET_KEY, else a random key kept in var/demo-secret-key (so
    admin logins survive a restart), else a per-process one."""
    key = os.environ.get("DEMO_SECRET_KEY", "")
    if key:
        return key
    path = VAR_DIR / "demo-secret-key"
    try:
        return path.read_text().strip() or secrets.token_urlsafe(50)
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        try:
            VAR_DIR.mkdir(exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_text().strip() or key
        except OSError:
            pass  # read-only checkout: a per-process key
        return key


SECRET_KEY = _secret_key()
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_telegraphy",
    "board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DATABASE") or str(VAR_DIR / "demo.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"

_edge_port = os.environ.get("TELEGRAPHY_EDGE_PORT", "8765")
TELEGRAPHY = {
    "SECRET": _telegraphy_secret(),
    "INGEST": os.environ.get("TELEGRAPHY_INGEST", "tcp://127.0.0.1:5560"),
    "INGEST_ACK": os.environ.get("TELEGRAPHY_INGEST_ACK", "tcp://127.0.0.1:5561"),
    "WS_URL": os.environ.get("TELEGRAPHY_WS_URL", f"ws://127.0.0.1:{_edge_port}/ws"),
    "REALM": os.environ.get("TELEGRAPHY_REALM", "telegraphy"),
    "BIN_DIR": os.environ.get("TELEGRAPHY_BIN_DIR") or None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_telegraphy": {"handlers": ["console"], "level": "INFO"}},
}
