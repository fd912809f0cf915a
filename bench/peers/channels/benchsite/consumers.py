"""The WebSocket consumer every bench subscriber talks to."""

from channels.generic.websocket import AsyncWebsocketConsumer

GROUP = "bench"


class BenchConsumer(AsyncWebsocketConsumer):
    """Joins the group "bench" and forwards each group message's "text"
    (the publisher's JSON payload, as published) to the socket.

    The group is joined before the handshake is accepted, as the Channels
    tutorial does: the load client counts a raw connection as ready once
    the upgrade succeeded, so by then it must already be in the group (the
    equivalent of WAMP's SUBSCRIBED), or the first events would be missed
    and counted as loss."""

    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def bench_message(self, event):
        """Handles group messages of type "bench.message"."""
        await self.send(text_data=event["text"])
