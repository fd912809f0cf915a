"""A minimal Django Channels project for `make bench` (see bench/README.md):
daphne serves benchsite.asgi:application; one WebSocket consumer joins the
group "bench" and forwards every group message's text to its socket."""
