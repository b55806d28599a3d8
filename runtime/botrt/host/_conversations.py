"""The host's waiting asks (`botrt.handle.ask`): what of the host they use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botrt.handle._internal import Dialogues

if TYPE_CHECKING:
    from botrt.host._host import Host


def dialogues_for(host: Host) -> Dialogues:
    """Waiting asks that follow `host`: its ``[conversations]``, clock, language, reload epochs.

    Each is read when used, so a test's `ManualClock` set before the start
    and the live ``[bot] language`` apply.
    """
    return Dialogues(
        settings=lambda: host.config.conversations,
        clock=lambda: host.info.clock,
        translate=lambda text: host.info.translator().gettext(text),
        count_out=lambda epoch: host.runtime.event_finished(epoch),
    )
