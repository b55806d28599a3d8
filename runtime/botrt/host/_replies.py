"""What the dispatcher says on its own, in the bot's language and as ``[bot]`` configures it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botrt.handle._internal import Texts

if TYPE_CHECKING:
    from botrt.config import BotConfig
    from botrt.handle import Dispatcher
    from botrt.handle._internal import Reporter
    from botrt.plugin import BotInfo


def wire_replies(
    dispatcher: Dispatcher,
    config: Callable[[], BotConfig],
    info: BotInfo,
    reporter: Reporter,
) -> None:
    """Give `dispatcher` the runtime's texts, ``[bot] error_reply`` and
    ``[bot] unknown_command_reply``, its clock (for cooldowns) and `reporter`.

    Each reply is read when sent: None in ``bot.toml`` means the runtime's own
    text in ``[bot] language``, ``""`` nothing, anything else is sent as written.
    """
    texts = dispatcher.texts = Texts(info.translator)

    def error_reply() -> str:
        own = config().bot.error_reply
        return texts.error() if own is None else own

    def unknown_reply() -> str:
        bot = config().bot
        if bot.unknown_command_reply is not None:
            return bot.unknown_command_reply
        return texts.unknown_command(f"{bot.prefixes[0]}help")

    dispatcher.error_reply = error_reply
    dispatcher.unknown_reply = unknown_reply
    dispatcher.reporter = reporter
    dispatcher.cooldowns.clock = lambda: info.clock.now().timestamp()
