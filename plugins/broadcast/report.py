"""The texts admins read: the end-of-job report and the status list.

Both fit in one message (VK takes 4,096 characters), whatever the job's size:
names are listed only for a few failures, and long texts are shortened. They
speak ``[bot] language``, from the plugin's catalogs (``locales/``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence

from botrt.i18n import plugin_translator

from .model import ADMINS, CANCELLED, FINISHED, RUNNING, SCHEDULED, FailureGroup, Job

# This module is imported while __plugin__.py runs, before the planner exists.
T = plugin_translator()
_ = T.gettext

MESSAGE_LIMIT = 4096
NAMES_UP_TO = 20
"""Failed recipients are named in the report when there are at most this many."""
_MAX_REASONS = 15
_PREVIEW = 60


def reasons() -> dict[int, str]:
    """What the error codes of an unreachable recipient mean, in words an admin acts on."""
    return {
        900: _("blocked the community"),
        901: _("never allowed messages from the community"),
        902: _("privacy settings"),
    }


def reason(group: FailureGroup) -> str:
    """One failure reason: ``901 never allowed messages ...``, or the code with VK's text."""
    known = reasons()
    if group.code in known:
        return f"{group.code} {known[group.code]}"
    text = " ".join(group.error.split())[:200] or _("no description")
    return f"{group.code} {text}" if group.code is not None else text


def audience_label(job: Job) -> str:
    """``all members`` or ``admins``."""
    return _("admins") if job.audience == ADMINS else _("all members")


def state_label(state: str) -> str:
    """A job's state as words in the bot's language (``finished``; Russian ``завершена``)."""
    labels = {
        SCHEDULED: T.pgettext("broadcast state", "scheduled"),
        RUNNING: T.pgettext("broadcast state", "running"),
        FINISHED: T.pgettext("broadcast state", "finished"),
        CANCELLED: T.pgettext("broadcast state", "cancelled"),
    }
    return labels.get(state, state)


def preview(text: str, width: int = _PREVIEW, *, forwards_only: bool = False) -> str:
    """The start of `text` on one line, quoted, cut with an ellipsis when longer.

    An empty `text` reads ``(attachments only)``, or ``(forwarded messages
    only)`` with `forwards_only`.
    """
    flat = " ".join(text.split())
    if len(flat) > width:
        flat = flat[: width - 1].rstrip() + "…"
    if flat:
        return f'"{flat}"'
    return _("(forwarded messages only)") if forwards_only else _("(attachments only)")


def forwards_only(job: Job) -> bool:
    """Whether `job` sends forwarded messages and nothing else."""
    return bool(job.forwarded) and not job.text.strip() and not job.attachment


def local_time(timestamp: float, tz: dt.tzinfo) -> str:
    """``2026-11-24 08:00 (Europe/Moscow)``: a moment as admins wrote it, in the bot's zone."""
    return f"{dt.datetime.fromtimestamp(timestamp, tz):%Y-%m-%d %H:%M} ({tz})"


def render_report(
    job: Job,
    groups: Sequence[FailureGroup],
    names: Mapping[int | None, Sequence[str]] | None = None,
    *,
    tz: dt.tzinfo = dt.UTC,
) -> str:
    """The report every admin gets when `job` ends (and ``broadcast status N``).

    `names` lists the failed recipients by error code; pass it only when
    there are few (at most `NAMES_UP_TO`). Times are shown in `tz`, the
    bot's time zone. The result is at most `MESSAGE_LIMIT` characters.
    """
    lines = [
        _("Broadcast #{id} {state}: {audience}.").format(
            id=job.id, state=state_label(job.state), audience=audience_label(job)
        ),
        _("Text: {text}").format(text=preview(job.text, forwards_only=forwards_only(job))),
    ]
    if job.forwarded:
        lines.append(
            T.ngettext(
                "Forwarded with it: {n} message", "Forwarded with it: {n} messages", job.forwarded
            ).format(n=job.forwarded)
        )
    if job.scheduled_at is not None:
        at = local_time(job.scheduled_at, tz)
        if job.state == SCHEDULED:
            lines.append(_("Starts: {at}").format(at=at))
            lines.append(_("Recipients: chosen when it starts"))
            return fit("\n".join(lines))
        if job.never_started:
            lines.append(_("Was scheduled for: {at}; cancelled before it started").format(at=at))
            return fit("\n".join(lines))
        lines.append(_("Scheduled for: {at}").format(at=at))
    # English counts recipients; the seed's Russian report counts messages ("План: 5 сообщений").
    lines += [
        T.ngettext("Planned: {n}", "Planned: {n}", job.planned).format(n=job.planned),
        _("Sent: {n}").format(n=job.sent),
        _("Failed: {n}").format(n=job.failed),
    ]
    for group in groups[:_MAX_REASONS]:
        lines.append(f"- {reason(group)}: {group.count}")
        who = (names or {}).get(group.code)
        if who:
            lines.append("  " + ", ".join(who))
    if len(groups) > _MAX_REASONS:
        rest = sum(g.count for g in groups[_MAX_REASONS:])
        other = len(groups) - _MAX_REASONS
        lines.append(
            T.ngettext("- {n} other reason: {count}", "- {n} other reasons: {count}", other).format(
                n=other, count=rest
            )
        )
    if job.state == RUNNING:
        lines.append(_("Left: {n}").format(n=job.left))
        if job.last_error:
            error = " ".join(job.last_error.split())[:200]
            lines.append(_("Retrying after: {error}").format(error=error))
    elif job.state == CANCELLED and job.left:
        lines.append(_("Not sent (cancelled): {n}").format(n=job.left))
    return fit("\n".join(lines))


def render_status(jobs: Sequence[Job], now: float | None = None, *, tz: dt.tzinfo = dt.UTC) -> str:
    """The ``broadcast status`` answer: running jobs, scheduled ones, then the latest ended ones.

    `now` is the current time (seconds since the epoch); scheduled times are
    shown in `tz`, the bot's time zone.
    """
    if not jobs:
        return _("No broadcasts yet.")
    now = time.time() if now is None else now
    lines = [_("Broadcasts:")]
    for job in jobs:
        state, audience = state_label(job.state), audience_label(job)
        if job.never_started:
            assert job.scheduled_at is not None
            at = local_time(job.scheduled_at, tz)
            if job.state == SCHEDULED:
                line = _("#{id} {state} for {at}, {audience}")
            else:
                line = _("#{id} {state} before its start at {at}, {audience}")
            line = line.format(id=job.id, state=state, at=at, audience=audience)
        else:
            line = _(
                "#{id} {state}, {audience}: {planned} planned, {sent} sent, {failed} failed"
            ).format(
                id=job.id,
                state=state,
                audience=audience,
                planned=job.planned,
                sent=job.sent,
                failed=job.failed,
            )
        if job.state == RUNNING:
            line += _(", {n} left").format(n=job.left)
        elif job.state == CANCELLED and job.left:
            line += _(", {n} not sent").format(n=job.left)
        line += _("; {ago} by id{user}; {text}").format(
            ago=ago(now - job.created_at),
            user=job.created_by,
            text=preview(job.text, 40, forwards_only=forwards_only(job)),
        )
        if job.state == RUNNING and job.last_error:
            error = " ".join(job.last_error.split())[:200]
            line += "\n   " + _("retrying: {error}").format(error=error)
        lines.append(line)
    return fit("\n".join(lines))


def ago(seconds: float) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    if seconds < 60:
        return _("just now")
    if seconds < 3600:
        return _("{n} min ago").format(n=int(seconds // 60))
    if seconds < 86400:
        return _("{n} h ago").format(n=int(seconds // 3600))
    return _("{n} d ago").format(n=int(seconds // 86400))


def fit(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text`, cut at a line boundary (or hard) to at most `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 2)
    cut = cut if cut > 0 else limit - 2
    return text[:cut] + "\n…"
