"""The events a VK bot receives, as botrt `Event` subclasses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botrt.adapter import ButtonEvent, Event, ReplyNotSupportedError, TextEvent
from botrt.protocols.vk._text import split_message

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

PLATFORM = "vk"
CHAT_PEER_OFFSET = 2_000_000_000
"""A `peer_id` at or above this is a group chat (`2000000000 + chat_id`)."""

# Options of `messages.send` that make sense on every piece of a split reply;
# every other option (attachment, keyboard, payload, ...) goes with the last
# piece only, so a keyboard or a photo is not repeated.
_EVERY_PIECE = frozenset({"dont_parse_links", "disable_mentions", "group_id"})
_INT32_MAX = 2**31 - 1

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
        await _send(api, self.peer_id, text, options)


class MessageEvent(ButtonEvent):
    """A press on a callback keyboard button (VK `message_event`), a `ButtonEvent`.

    Attributes:
        user_id, peer_id: who pressed and in which conversation.
        event_id: the press's own id (12 hex characters), which
            `messages.sendMessageEventAnswer` needs; not the update's id.
        update_id: the update's id (what `event_id` is on other VK events).
        payload: the button's payload, decoded as for `MessageNew`.
        conversation_message_id: the message that carries the keyboard.
        group_id, raw: as for `MessageNew`.
    """

    __slots__ = (
        "_api",
        "conversation_message_id",
        "event_id",
        "group_id",
        "raw",
        "update_id",
    )

    def __init__(
        self,
        *,
        user_id: int,
        peer_id: int,
        event_id: str,
        bot: str,
        payload: Any = None,
        conversation_message_id: int | None = None,
        group_id: int | None = None,
        update_id: str | None = None,
        raw: dict[str, Any] | None = None,
        api: VkApi | None = None,
    ) -> None:
        super().__init__(
            user_id=user_id, peer_id=peer_id, payload=payload, platform=PLATFORM, bot=bot
        )
        self.event_id = event_id
        self.conversation_message_id = conversation_message_id
        self.group_id = group_id
        self.update_id = update_id
        self.raw: dict[str, Any] = raw or {}
        self._api = api

    async def answer(self, event_data: Mapping[str, Any] | None = None) -> None:
        """Answer the press with `messages.sendMessageEventAnswer`.

        Without `event_data` the button just stops spinning; with it, the
        client acts (`{"type": "show_snackbar", "text": ...}`,
        `{"type": "open_link", "link": ...}`, ...).

        :raises ReplyNotSupportedError: if the event was parsed without an API.
        :raises VkApiError: if VK refuses the answer.
        :raises VkTransportError: if VK cannot be reached.
        """
        await self._require_api().messages.sendMessageEventAnswer(
            event_id=self.event_id,
            user_id=self.user_id,
            peer_id=self.peer_id,
            event_data=dict(event_data) if event_data is not None else None,
        )

    async def show_snackbar(self, text: str) -> None:
        """Answer the press with a snackbar showing `text`.

        :raises ReplyNotSupportedError, VkApiError, VkTransportError: as `answer`.
        """
        await self.answer({"type": "show_snackbar", "text": text})

    async def edit(self, text: str, *, keyboard: Any = None, **options: Any) -> None:
        """Edit the pressed message with `messages.edit`: new text, and `keyboard` if given.

        To keep buttons on the message, pass the keyboard again (or a new
        page of it): VK's docs do not say that an edit without `keyboard`
        keeps the old one, so do not rely on it (FakeVK drops it). `options`
        are more `messages.edit` parameters. Answer the press as well
        (`answer`, `show_snackbar`): until then the button shows it is loading.

        :raises ReplyNotSupportedError: without an API, or for a press that
            names no message (no `conversation_message_id`).
        :raises VkApiError, VkTransportError: as `answer`.
        """
        api = self._require_api()
        if self.conversation_message_id is None:
            raise ReplyNotSupportedError(
                "this MessageEvent names no message (no conversation_message_id) to edit"
            )
        await api.call(
            "messages.edit",
            peer_id=self.peer_id,
            conversation_message_id=self.conversation_message_id,
            message=text,
            keyboard=keyboard,
            **options,
        )

    async def reply(self, text: str, **options: Any) -> None:
        """Send `text` to the press's conversation with `messages.send`, as `MessageNew.reply`.

        :raises ReplyNotSupportedError, VkApiError, VkTransportError: as `answer`.
        """
        await _send(self._require_api(), self.peer_id, text, options)

    def _require_api(self) -> VkApi:
        if self._api is None:
            raise ReplyNotSupportedError(
                "this MessageEvent was parsed without a VkApi; pass api= to parse_update"
            )
        return self._api

    def __repr__(self) -> str:
        return (
            f"<MessageEvent bot={self.bot!r} user_id={self.user_id} "
            f"peer_id={self.peer_id} payload={self.payload!r}>"
        )


class _Update(Event):
    """What every plain VK update carries besides its object: the community, its id, the JSON."""

    __slots__ = ("event_id", "group_id", "raw")

    def __init__(
        self, *, bot: str, group_id: int | None, event_id: str | None, raw: dict[str, Any] | None
    ) -> None:
        super().__init__(platform=PLATFORM, bot=bot)
        self.group_id = group_id
        self.event_id = event_id
        self.raw: dict[str, Any] = raw or {}


class GroupJoin(_Update):
    """A user joined the community (VK `group_join`).

    Attributes:
        user_id: who joined.
        join_type: VK's `join_type` as delivered (`join`, `unsure`,
            `accepted`, `approved`, `request`, or a value VK adds later).
        group_id, event_id, raw: as for `MessageNew`.
    """

    __slots__ = ("join_type", "user_id")

    def __init__(
        self,
        *,
        user_id: int,
        join_type: str,
        bot: str,
        group_id: int | None = None,
        event_id: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(bot=bot, group_id=group_id, event_id=event_id, raw=raw)
        self.user_id = user_id
        self.join_type = join_type


class GroupLeave(_Update):
    """A user left the community or was removed (VK `group_leave`).

    Attributes:
        user_id: who left.
        self_left: True if they left on their own, False if they were removed.
        group_id, event_id, raw: as for `MessageNew`.
    """

    __slots__ = ("self_left", "user_id")

    def __init__(
        self,
        *,
        user_id: int,
        self_left: bool,
        bot: str,
        group_id: int | None = None,
        event_id: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(bot=bot, group_id=group_id, event_id=event_id, raw=raw)
        self.user_id = user_id
        self.self_left = self_left


class VkEvent(_Update):
    """Any VK update botrt has no dedicated type for (`wall_post_new`, ...).

    Attributes:
        type: VK's update type.
        object: the update's `object` (empty for `confirmation`).
        group_id, event_id, raw: as for `MessageNew`.
    """

    __slots__ = ("object", "type")

    def __init__(
        self,
        *,
        type_: str,
        object_: dict[str, Any],
        bot: str,
        group_id: int | None = None,
        event_id: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(bot=bot, group_id=group_id, event_id=event_id, raw=raw)
        self.type = type_
        self.object = object_

    def __repr__(self) -> str:
        return f"<VkEvent bot={self.bot!r} type={self.type!r} group_id={self.group_id}>"


async def _send(api: VkApi, peer_id: int, text: str, options: dict[str, Any]) -> None:
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
