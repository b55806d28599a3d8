"""A VK reply: `messages.send`, split into pieces VK accepts, with stable `random_id`s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botrt.protocols.vk._text import MAX_MESSAGE_LENGTH, split_message

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

# Options of `messages.send` that make sense on every piece of a split reply;
# every other option (attachment, keyboard, payload, ...) goes with the last
# piece only, so a keyboard or a photo is not repeated.
_EVERY_PIECE = frozenset({"dont_parse_links", "disable_mentions", "group_id"})
_INT32_MAX = 2**31 - 1


async def send_reply(api: VkApi, peer_id: int, text: str, options: dict[str, Any]) -> None:
    """Send `text` to `peer_id` in pieces; `options` go with every piece or the last one."""
    if not options and len(text) <= MAX_MESSAGE_LENGTH:
        # The usual reply: one piece, nothing to share out.
        await api.call("messages.send", peer_id=peer_id, message=text)
        return
    pieces = split_message(text)
    random_id = options.pop("random_id", None)
    every = {k: options.pop(k) for k in _EVERY_PIECE & options.keys()}
    last = len(pieces) - 1
    for index, piece in enumerate(pieces):
        params = dict(every)
        if index == last:
            params.update(options)
        if random_id is not None:
            params["random_id"] = _offset_random_id(int(random_id), index)
        await api.call("messages.send", peer_id=peer_id, message=piece, **params)


def _offset_random_id(random_id: int, index: int) -> int:
    if random_id == 0 or index == 0:
        return random_id
    sign = 1 if random_id > 0 else -1
    return sign * ((abs(random_id) - 1 + index) % _INT32_MAX + 1)
