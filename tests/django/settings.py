"""Settings of the django_telegraphy tests (runtests.py, manage.py).

TELEGRAPHY_TEST_CONFIG (JSON, optional) is merged into TELEGRAPHY: the
management-command tests start `manage.py telegraphy` on free ports with it.
"""

import json
import os

SECRET_KEY = "django-telegraphy-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Paris"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "django_telegraphy",
    "testapp",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}]
MIDDLEWARE = []
ROOT_URLCONF = "testapp.urls"
LOGGING_CONFIG = None

TELEGRAPHY = {
    "SECRET": "test-secret-0123456789abcdef0123456789abcdef",
    # Nothing listens here unless a test binds it (tests override per case).
    "INGEST": "tcp://127.0.0.1:5560",
    "INGEST_ACK": "tcp://127.0.0.1:5561",
    "WS_URL": "ws://127.0.0.1:8765/ws",
    "MODELS": {"testapp.Note": {"fields": ["text"], "audience": "public"}},
}
TELEGRAPHY.update(json.loads(os.environ.get("TELEGRAPHY_TEST_CONFIG") or "{}"))
