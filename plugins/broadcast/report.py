"""The texts admins read: the end-of-job report and the status list.

Both fit in one message (VK takes 4,096 characters), whatever the job's size:
names are listed only for a few failures, and long texts are shortened.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence

from .model import ADMINS, CANCELLED, RUNNING, SCHEDULED, FailureGroup, Job

MESSAGE_LIMIT = 4096
NAMES_UP_TO = 20
"""Failed recipients are named in the report when there are at most this many."""
_MAX_REASONS = 15
_PREVIEW = 60

# What the error codes of an unreachable recipient mean, in words an admin acts on.
REASONS = {
    900: "blocked the community",
    901: "never allowed messages from the community",
    902: "privacy settings",
}


def reason(group: FailureGroup) -> str:
    """One failure reason: ``901 never allowed messages ...``, or the code with VK's text."""
    if group.code in REASONS:
        return f"{group.code} {REASONS[group.code]}"
    text = " ".join(group.error.split())[:200] or "no description"
    return f"{group.code} {text}" if group.code is not None else text


def audience_label(job: Job) -> str:
    """``all members`` or ``admins``."""
    return "admins" if job.audience == ADMINS else "all members"


def preview(text: str, width: int = _PREVIEW) -> str:
    """The start of `text` on one line, quoted, cut with an ellipsis when longer."""
    flat = " ".join(text.split())
    if len(flat) > width:
        flat = flat[: width - 1].rstrip() + "…"
    return f'"{flat}"' if flat else "(attachments only)"


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
        f"Broadcast #{job.id} {job.state}: {audience_label(job)}.",
        f"Text: {preview(job.text)}",
    ]
    if job.scheduled_at is not None:
        at = local_time(job.scheduled_at, tz)
        if job.state == SCHEDULED:
            lines.append(f"Starts: {at}")
            lines.append("Recipients: chosen when it starts")
            return fit("\n".join(lines))
        if job.never_started:
            lines.append(f"Was scheduled for: {at}; cancelled before it started")
            return fit("\n".join(lines))
        lines.append(f"Scheduled for: {at}")
    lines += [f"Planned: {job.planned}", f"Sent: {job.sent}", f"Failed: {job.failed}"]
    for group in groups[:_MAX_REASONS]:
        lines.append(f"- {reason(group)}: {group.count}")
        who = (names or {}).get(group.code)
        if who:
            lines.append("  " + ", ".join(who))
    if len(groups) > _MAX_REASONS:
        rest = sum(g.count for g in groups[_MAX_REASONS:])
        lines.append(f"- {len(groups) - _MAX_REASONS} other reasons: {rest}")
    if job.state == RUNNING:
        lines.append(f"Left: {job.left}")
        if job.last_error:
            lines.append(f"Retrying after: {' '.join(job.last_error.split())[:200]}")
    elif job.state == CANCELLED and job.left:
        lines.append(f"Not sent (cancelled): {job.left}")
    return fit("\n".join(lines))


def render_status(jobs: Sequence[Job], now: float | None = None, *, tz: dt.tzinfo = dt.UTC) -> str:
    """The ``broadcast status`` answer: running jobs, scheduled ones, then the latest ended ones.

    `now` is the current time (seconds since the epoch); scheduled times are
    shown in `tz`, the bot's time zone.
    """
    if not jobs:
        return "No broadcasts yet."
    now = time.time() if now is None else now
    lines = ["Broadcasts:"]
    for job in jobs:
        if job.never_started:
            assert job.scheduled_at is not None
            at = local_time(job.scheduled_at, tz)
            when = "for" if job.state == SCHEDULED else "before its start at"
            line = f"#{job.id} {job.state} {when} {at}, {audience_label(job)}"
        else:
            line = (
                f"#{job.id} {job.state}, {audience_label(job)}: {job.planned} planned, "
                f"{job.sent} sent, {job.failed} failed"
            )
        if job.state == RUNNING:
            line += f", {job.left} left"
        elif job.state == CANCELLED and job.left:
            line += f", {job.left} not sent"
        line += f"; {ago(now - job.created_at)} by id{job.created_by}; {preview(job.text, 40)}"
        if job.state == RUNNING and job.last_error:
            line += f"\n   retrying: {' '.join(job.last_error.split())[:200]}"
        lines.append(line)
    return fit("\n".join(lines))


def ago(seconds: float) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def fit(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text`, cut at a line boundary (or hard) to at most `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 2)
    cut = cut if cut > 0 else limit - 2
    return text[:cut] + "\n…"
