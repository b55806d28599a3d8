"""`MessageEvent`: a press on a VK callback button, and the answers it can give."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botrt.adapter import ButtonEvent, ReplyNotSupportedError
from botrt.protocols.vk._platform import PLATFORM
from botrt.protocols.vk._reply import send_reply

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi


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
        await send_reply(self._require_api(), self.peer_id, text, options)

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
