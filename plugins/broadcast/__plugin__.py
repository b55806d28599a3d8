"""broadcast: admins send one message, with its attachments, to every member or to the admins.

Commands (admins only):

- ``broadcast TEXT`` (alias ``mb``) sends TEXT, with the attachments of the
  command message, to every stored member of the community of the bot that
  received the command. The reply comes at once (``Broadcast #3 started: 452
  recipients.``); the job runs in the background, so the bot keeps answering.
- ``broadcast-admins TEXT`` (alias ``ma``) does the same for the admins (the
  community's managers, ``[bot] admins`` and the admin who sends it).
- ``broadcast --at "YYYY-MM-DD HH:MM" TEXT`` (and the same for
  ``broadcast-admins``) schedules the broadcast instead: it starts at that
  time, in the bot's time zone (``[bot] timezone``), and goes to the
  members (or admins) stored then. A malformed time, or one not in the
  future, is refused with the expected format, and nothing is written.
- ``broadcast status`` lists running jobs, scheduled ones with their time,
  and the latest ended ones with their progress; ``broadcast cancel N``
  stops job N, or cancels it before it starts (then nothing is sent and
  no report follows).

Because TEXT is free text, the rule is: when everything after the command is
one or two words and the first is ``status`` or ``cancel`` (``status``,
``cancel 3``, ``cancel #3``), it is a subcommand; anything else is the text
to send. A text starting with ``--at`` is always scheduled. Both commands
follow it. A message with neither text nor attachments nor forwards is
refused with the usage, and nothing is written.

On VK, messages forwarded with the command (``fwd_messages``: the head
forwards a message from the busy group chat with ``/mb``), or the message
it replies to, go to every recipient along with the text, in the batched
``peer_ids`` path too, with VK's ``forward`` parameter. A community may
forward only messages of its own conversations, so forwarded messages go on
inside the command's own message (as the seed's ``get_forwards`` does); a
reply goes on as the message it answers. The report and ``status N`` count
them (``Forwarded with it: 2 messages``).

Every job and each of its recipients is stored before the start is
confirmed, and each batch's outcomes after it is sent, so a job cut by a
crash, a restart or a reload is finished by the next start with nobody
missed and, on VK, nobody messaged twice (see ``sender.py``). When a job
ends, every admin of the bot gets a report: planned, sent, failed, with the
reasons grouped and, for up to 20 failures, the names.

A scheduled job is stored when it is asked for, and every start of the
plugin (a restart, a reload) waits for it again. If its time passed while
the bot was not running, it starts as soon as the bot is back, and the log
says so. It starts once even with several bot processes on one database.
Times come from the host's clock (`BotInfo`), which tests set by hand.

Progress is on ``/metrics`` (see ``progress.py``): recipients reached and
left, jobs running, scheduled and ended.

Settings, ``[plugins.settings.broadcast]``: ``batch_size`` (recipients per
send, and so per recorded step; default: what the platform takes in one go,
2,500 on VK), ``report`` (``true`` by default) and ``retry_delay`` (seconds
before a refused batch, or recipients VK failed transiently, are tried
again; 1 by default, doubled each time up to a minute) and ``confirm``
(``false`` by default). With ``confirm = true``, a broadcast sent now (not
one scheduled with ``--at``, which ``cancel N`` can still stop) first asks the
admin: the number of recipients, a preview, and Send / Cancel buttons; only
Send starts it (see ``confirm.py``).

On the console, members are whatever is stored for the bot ``console``
(usually nobody: the command says so); the console shows each batch with its
recipients instead of sending it.
"""

from __future__ import annotations

from botrt import PluginPlanner
from botrt.plugin import Background, BotInfo, Members, Messenger, Metrics, PluginSettings
from botrt.storage import PluginStorage

from .progress import Progress
from .sender import Broadcaster
from .settings import Options
from .store import BroadcastStore

# settings=Options: `botrt check` and `botrt serve` check the table against it.
BROADCAST = PluginPlanner(version="1.1.0", auto_import=True, settings=Options)

_LIVE: list[Broadcaster] = []


def live() -> Broadcaster:
    """The running version's `Broadcaster`.

    :raises RuntimeError: before `on_load` has run (no storage configured).
    """
    if not _LIVE:
        raise RuntimeError("the broadcast plugin needs [storage]; it did not start")
    return _LIVE[-1]


@BROADCAST.on_load
async def start(
    storage: PluginStorage,
    messenger: Messenger,
    members: Members,
    background: Background,
    settings: PluginSettings,
    info: BotInfo,
    metrics: Metrics,
) -> None:
    """Create the tables, resume jobs a crash or a reload cut short, wait for scheduled ones."""
    options = Options.from_settings(settings)
    store = BroadcastStore(storage)
    await store.setup()
    progress = Progress(metrics, messenger.bots)
    broadcaster = Broadcaster(store, messenger, members, background, info, progress)
    _LIVE[:] = [broadcaster]
    await broadcaster.resume(options)
    if broadcaster.leases.timing.cluster:
        # Jobs another worker starts later are watched too: taken over here if it dies.
        background.start(broadcaster.watch, options, name="broadcast-watch")
