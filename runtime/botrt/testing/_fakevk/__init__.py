"""FakeVK: a loopback HTTP server that speaks VK's wire format, for offline tests.

It serves the API methods botrt uses (`/method/<name>`), `execute` as
`VkApi` writes it, the Bots Long Poll endpoint (`/lp/<group_id>`) and
document uploads, and sends Callback API requests, with VK's errors, a
per-token rate limit and injectable faults::

    async with FakeVK() as vk:
        vk.add_group(1, token="t")
        async with VkApi("t", api_url=vk.api_url) as api:
            await api.messages.send(peer_id=5, message="hi")
        assert vk.sent[0].text == "hi"
"""

from botrt.testing._fakevk._callback import CallbackResponse
from botrt.testing._fakevk._server import FakeVK
from botrt.testing._fakevk._state import (
    Activity,
    EventAnswer,
    FakeVKError,
    LiveMessage,
    SavedDoc,
    SentMessage,
)

__all__ = [
    "Activity",
    "CallbackResponse",
    "EventAnswer",
    "FakeVK",
    "FakeVKError",
    "LiveMessage",
    "SavedDoc",
    "SentMessage",
]
