"""The host's waiting asks (`botrt.handle.ask`): what of the host they use."""

from __future__ import annotations

from functools import partial
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING

from botrt.handle._internal import Dialogues

if TYPE_CHECKING:
    from botrt.host._host import Host

_CLOCK = attrgetter("info.clock")


def dialogues_for(host: Host) -> Dialogues:
    """Waiting asks that follow `host`: its ``[conversations]``, clock, language, reload epochs.

    ``[conversations]`` is the one `host` was made with (a reload of
    ``bot.toml`` keeps it: it changes at a restart). The clock and the
    language are read when used, so a test's `ManualClock` set before the
    start and the live ``[bot] language`` apply.
    """
    return Dialogues(
        # Read at every ask and answer: C-level getters, no Python frame.
        settings=repeat(host.config.conversations).__next__,
        clock=partial(_CLOCK, host),
        translate=lambda text: host.info.translator().gettext(text),
        count_out=lambda epoch: host.runtime.event_finished(epoch),
    )
