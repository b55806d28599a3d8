"""`Messenger`: sending on a bot's behalf without an event to reply to."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botrt._errors import BotrtError
from botrt.adapter import Outbound, SendOutcome


class UnknownBotError(BotrtError):
    """Raised when a bot name is not one of the running bot accounts.

    Attributes:
        bot: the name asked for.
        running: the bot accounts that were running then.
    """

    def __init__(self, bot: str, running: Sequence[str]) -> None:
        self.bot = bot
        self.running = tuple(running)
        known = ", ".join(self.running) or "none"
        super().__init__(f"no bot account {bot!r} can send (running: {known})")


class Messenger:
    """Sends messages through any running bot account: broadcasts, reports, schedules.

    Plugins receive it by injection (annotate a parameter with `Messenger`).
    """

    def __init__(self, outbound: Callable[[], Mapping[str, Outbound]]) -> None:
        self._outbound = outbound

    def bots(self) -> list[str]:
        """The bot accounts that can send, in ``bot.toml`` order."""
        return list(self._outbound())

    def _get(self, bot: str) -> Outbound:
        try:
            return self._outbound()[bot]
        except KeyError:
            raise UnknownBotError(bot, list(self._outbound())) from None

    def platform(self, bot: str) -> str:
        """The platform of `bot` (``"vk"``, ``"console"``).

        :raises UnknownBotError: if `bot` is not running.
        """
        return self._get(bot).platform

    def batch_size(self, bot: str) -> int:
        """How many recipients one `send_many` call to `bot` should carry.

        :raises UnknownBotError: if `bot` is not running.
        """
        return self._get(bot).batch_size

    async def send(self, bot: str, peer_id: int, text: str, **options: Any) -> None:
        """Send `text` to one conversation through `bot`.

        :raises UnknownBotError: if `bot` is not running.
        :raises Exception: the platform's error when it refuses.
        """
        await self._get(bot).send(peer_id, text, **options)

    async def send_many(
        self, bot: str, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        """Send `text` to every peer through `bot`; one outcome per peer.

        Sending again with the same `key` does not deliver twice where the
        platform can prevent it (VK absorbs a repeated `random_id` for an hour).

        :raises UnknownBotError: if `bot` is not running.
        """
        return await self._get(bot).send_many(peer_ids, text, key=key, **options)
