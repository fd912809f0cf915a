"""Settings from the environment (bench/peers/channels/__init__.py sets it):

  BENCH_REDIS_PORT         the private redis-server of this run (127.0.0.1)
  BENCH_CHANNEL_LAYER      core   -> channels_redis.core.RedisChannelLayer (Channels' default choice)
                           pubsub -> channels_redis.pubsub.RedisPubSubChannelLayer
  BENCH_CHANNELS_CAPACITY  the core layer's capacity (default 10000; see
                           bench/README.md: large enough that neither W1's
                           2,000-event burst nor W2's 10,000 events is dropped
                           by the layer's per-channel buffer by design)

The publisher (bench/publishers/publish_channels.py) imports these same
settings, so both ends always use the same layer.
"""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES = {}
USE_TZ = True
ROOT_URLCONF = "benchsite.urls"
ASGI_APPLICATION = "benchsite.asgi.application"
LOGGING_CONFIG = None

REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
LAYER = os.environ.get("BENCH_CHANNEL_LAYER", "core")
CAPACITY = int(os.environ.get("BENCH_CHANNELS_CAPACITY", "10000"))

if LAYER == "pubsub":
    CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        # channels_redis 4.0's pubsub layer takes URLs only.
        "CONFIG": {"hosts": [f"redis://127.0.0.1:{REDIS_PORT}"]},
    }}
elif LAYER == "core":
    CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [("127.0.0.1", REDIS_PORT)], "capacity": CAPACITY},
    }}
else:
    raise ValueError(f"BENCH_CHANNEL_LAYER={LAYER!r}: use core or pubsub")
