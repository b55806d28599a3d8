"""The events a VK bot receives, as botrt `Event` subclasses: `MessageNew` here.

The others live in `_press` (`MessageEvent`) and `_community` (`GroupJoin`,
`GroupLeave`, `VkEvent`), and are importable from here too; a reply is sent by
`_reply.send_reply`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botrt.adapter import ReplyNotSupportedError, TextEvent
from botrt.protocols.vk._community import GroupJoin as GroupJoin
from botrt.protocols.vk._community import GroupLeave as GroupLeave
from botrt.protocols.vk._community import VkEvent as VkEvent
from botrt.protocols.vk._platform import CHAT_PEER_OFFSET, PLATFORM
from botrt.protocols.vk._press import MessageEvent as MessageEvent
from botrt.protocols.vk._reply import send_reply
from botrt.protocols.vk._text import MAX_MESSAGE_LENGTH

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi


_new_object = object.__new__
_now = time.time

# Attachment types `messages.send(attachment=...)` accepts as `type{owner_id}_{id}`.
# Others (sticker, link, gift, audio_message, graffiti, ...) cannot be sent on by id.
_SENDABLE = frozenset(
    {"photo", "video", "audio", "doc", "wall", "market", "poll", "story", "audio_playlist"}
)


class MessageNew(TextEvent):
    """A message written to the community (VK `message_new`).

    Attributes:
        text: the text, without a leading mention of this community
            (`"[club1|@bot] /help"` arrives as `"/help"`).
        raw_text: the text exactly as VK delivered it.
        user_id: the author (`from_id`).
        peer_id: the conversation (the user's id, or `2000000000 + chat_id`).
        message_id: the message's id (0 in group chats, where VK only gives
            `conversation_message_id`).
        conversation_message_id: the message's id inside its conversation.
        attachments: VK's attachment objects, as delivered.
        payload: the keyboard button payload, decoded from JSON when VK sent a
            string (kept as the string if it is not JSON); None when absent.
        message: VK's message object; `client_info`: what the user's client
            supports (empty for old API versions).
        group_id, event_id: the community and the update's id (an opaque
            string, None in old payloads).
        raw: the whole update.
    """

    __slots__ = (
        "_api",
        "_typing",
        "attachments",
        "client_info",
        "conversation_message_id",
        "event_id",
        "group_id",
        "message",
        "message_id",
        "raw",
        "raw_text",
    )

    def __init__(
        self,
        text: str,
        *,
        raw_text: str,
        user_id: int,
        peer_id: int,
        bot: str,
        message_id: int = 0,
        conversation_message_id: int | None = None,
        attachments: list[Any] | None = None,
        payload: Any = None,
        message: dict[str, Any] | None = None,
        client_info: dict[str, Any] | None = None,
        group_id: int | None = None,
        event_id: str | None = None,
        raw: dict[str, Any] | None = None,
        api: VkApi | None = None,
    ) -> None:
        super().__init__(
            text, user_id=user_id, peer_id=peer_id, platform=PLATFORM, bot=bot, payload=payload
        )
        self.raw_text = raw_text
        self.message_id = message_id
        self.conversation_message_id = conversation_message_id
        self.attachments: list[Any] = attachments or []
        self.message: dict[str, Any] = message or {}
        self.client_info: dict[str, Any] = client_info or {}
        self.group_id = group_id
        self.event_id = event_id
        self.raw: dict[str, Any] = raw or {}
        self._api = api
        # The pending "typing" indicator (`_typing.Typing`): a reply cancels it.
        self._typing: Any = None

    @classmethod
    def _parsed(
        cls,
        text: str,
        raw_text: str,
        user_id: int,
        peer_id: int,
        bot: str,
        message_id: int,
        conversation_message_id: int | None,
        attachments: list[Any],
        payload: Any,
        message: dict[str, Any],
        client_info: dict[str, Any],
        group_id: int | None,
        event_id: str | None,
        raw: dict[str, Any],
        api: VkApi | None,
    ) -> MessageNew:
        # What `__init__` makes, without its three levels of keyword calls: `parse_update`
        # makes one per message. Every slot of the class and its bases is set here
        # (`tests/vk/test_events.py` compares the two).
        self = _new_object(cls)
        self.platform = PLATFORM
        self.bot = bot
        self.time = _now()
        self.on_handled = None
        self.text = text
        self.user_id = user_id
        self.peer_id = peer_id
        self.payload = payload
        self.raw_text = raw_text
        self.message_id = message_id
        self.conversation_message_id = conversation_message_id
        self.attachments = attachments
        self.message = message
        self.client_info = client_info
        self.group_id = group_id
        self.event_id = event_id
        self.raw = raw
        self._api = api
        self._typing = None
        return self

    @property
    def is_chat(self) -> bool:
        """True when the message was written in a group chat."""
        return self.peer_id >= CHAT_PEER_OFFSET

    @property
    def attachment_ids(self) -> list[str]:
        """The message's attachments as `messages.send` takes them, in order.

        Each is ``type{owner_id}_{id}``, with ``_{access_key}`` when VK gave
        one (``photo-1_457239017_ab12cd``), so ``attachment=",".join(...)``
        sends the same media on. Attachments that cannot be sent by id
        (stickers, links, gifts, voice messages) and malformed ones are left
        out. Raises nothing.
        """
        ids: list[str] = []
        for item in self.attachments:
            if not isinstance(item, Mapping):
                continue
            kind = item.get("type")
            if not isinstance(kind, str) or kind not in _SENDABLE:
                continue
            body = item.get(kind)
            if not isinstance(body, Mapping):
                continue
            # Wall posts of older API versions name their wall `to_id`, not `owner_id`.
            owner = body.get("owner_id", body.get("to_id"))
            try:
                ident = f"{kind}{int(owner)}_{int(body.get('id'))}"  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            key = body.get("access_key")
            ids.append(f"{ident}_{key}" if isinstance(key, str) and key else ident)
        return ids

    @property
    def forwarded(self) -> list[dict[str, Any]]:
        """The messages forwarded with this one (VK `fwd_messages`), as delivered; [] if none."""
        items = self.message.get("fwd_messages")
        return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []

    @property
    def reply_to(self) -> dict[str, Any] | None:
        """The message this one answers (VK `reply_message`), as delivered; None if none."""
        item = self.message.get("reply_message")
        return item if isinstance(item, dict) else None

    def forward_on(self) -> tuple[dict[str, Any], int] | None:
        """`messages.send(forward=...)` that passes this message's forwards on, and their count.

        A community may forward only messages of its own conversations (the
        ones it received or sent), by `conversation_message_id`; the
        forwarded messages are someone else's, so what goes on is this
        message itself, which shows them inside. A reply goes on as the
        message it answers, which is in this conversation. Returns
        ``({"peer_id": ..., "conversation_message_ids": [...]}, count)``, or
        None when there is nothing to forward (or no id to name it by).
        """
        forwarded = self.forwarded
        source = self.message if forwarded else self.reply_to
        if source is None:
            return None
        count = len(forwarded) or 1
        cmid = source.get("conversation_message_id")
        if isinstance(cmid, int) and not isinstance(cmid, bool) and cmid > 0:
            return {"peer_id": self.peer_id, "conversation_message_ids": [cmid]}, count
        ident = source.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool) and ident > 0:
            return {"peer_id": self.peer_id, "message_ids": [ident]}, count
        return None

    async def reply(self, text: str, **options: Any) -> None:
        """Send `text` to this message's conversation with `messages.send`.

        Text over 4096 characters goes as several messages, cut at newlines,
        then spaces. `options` are `messages.send` parameters; attachments,
        keyboard and the like go with the last message. A `random_id` you pass
        is offset by the piece's index, so VK's duplicate check does not drop
        the later pieces.

        :raises ReplyNotSupportedError: if the event was parsed without an API.
        :raises VkApiError: if VK refuses the message.
        :raises VkTransportError: if VK cannot be reached.
        """
        api = self._api
        if api is None:
            raise ReplyNotSupportedError(
                "this MessageNew was parsed without a VkApi; pass api= to parse_update"
            )
        typing = self._typing
        if typing is not None:
            self._typing = None
            typing.cancel()
        if not options and len(text) <= MAX_MESSAGE_LENGTH:
            # The usual reply, one piece: `VkApi`'s own short way (a `ReplyApi`'s
            # numbers the send as its `call` would).
            send = getattr(type(api), "_send_text", None)
            if send is not None:
                await send(api, self.peer_id, text)
                return
        await send_reply(api, self.peer_id, text, options)
