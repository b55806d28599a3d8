"""What the dispatcher does when a flow fails: log, count, report, answer.

`Failures` is mixed into `Dispatcher`; its `_failed` is handed to every flow
run and called only when one raises.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from botrt.adapter import ButtonEvent, TextEvent
from botrt.handle._walk import failure_site

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._flow import Flow
    from botrt.handle._run import Delivery

log = logging.getLogger("botrt.dispatch")


class Failures:
    """The failure handling of `Dispatcher` (see the module)."""

    # Set by `Dispatcher.__init__` and the host.
    on_error: Callable[[Flow, BaseException], None] | None
    reporter: Reporter | None
    error_reply: Callable[[], str] | None

    async def _failed(self, flow: Flow, event: Event, exc: Exception, delivery: Delivery) -> None:
        """Log, count and report a failure; then the flow's handlers, or the sender is told."""
        flow_name, node_name = failure_site(exc) or (flow.name, "(guard)")
        log.error(
            "plugin %r, flow %r, node %r failed on %r: %s: %s",
            flow.plugin or "-",
            flow_name,
            node_name,
            event,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        if self.on_error is not None:
            self.on_error(flow, exc)
        if self.reporter is not None:
            try:
                self.reporter(flow.plugin, flow_name, node_name, event, exc)
            except Exception:
                log.exception("an error reporter failed on the error of flow %r", flow_name)
        for handler in flow.error_handlers:
            try:
                result = handler(event, exc)
                if inspect.isawaitable(result):
                    await result
            except Exception as again:
                if again is not exc:  # re-raising the error passes it on; anything else is news
                    log.exception(
                        "the error handler %r of plugin %r failed",
                        getattr(handler, "__qualname__", handler),
                        flow.plugin,
                    )
                continue
            return  # handled: the plugin answered (or chose silence)
        if delivery.told or self.error_reply is None:
            return
        delivery.told = True
        text = self.error_reply()
        if text and isinstance(event, TextEvent | ButtonEvent):
            await tell(event, text, "the error reply")


async def tell(event: TextEvent | ButtonEvent, text: str, what: str) -> None:
    """Reply `text` to `event`; a reply that fails is logged as `what`, not raised."""
    try:
        await event.reply(text)
    except Exception:
        log.exception("could not send %s to user %s", what, event.user_id)


Reporter = Callable[[str | None, str, str, "Event", Exception], None]
"""Told of every failure: plugin (None outside plugins), flow name, node name, event, error."""
