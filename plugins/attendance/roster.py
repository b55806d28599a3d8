"""Students: what an admin typed turned into members, and user ids into names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from botrt.i18n import plugin_translator
from botrt.plugin import MemberLookupError, Members

from .parse import MENTION, USER_ID

_MAX_ID = 2**63 - 1  # the user_id column is a BIGINT
T = plugin_translator()
_ = T.gettext


@dataclass(frozen=True, slots=True)
class Student:
    """One student a command is about.

    Attributes:
        user_id: the student's user id.
        name: their name from the member list (or from the mention, or ``id123``).
        known: False for an id or mention of someone not in the member list.
    """

    user_id: int
    name: str
    known: bool = True

    @property
    def label(self) -> str:
        """The name as replies show it, flagged when the member list does not know them."""
        if self.known:
            return self.name
        if self.name == f"id{self.user_id}":
            return _("{name} (not in the member list)").format(name=self.name)
        return _("{name} (id{id}, not in the member list)").format(name=self.name, id=self.user_id)


class StudentError(ValueError):
    """Some student references name nobody, or several people.

    Attributes:
        problems: one line per reference that failed, candidates listed.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


async def resolve_students(refs: Iterable[str], members: Members, bot: str) -> list[Student]:
    """The students `refs` name, in order, each once.

    A name must match exactly one member of `bot`'s member list. An id or a
    mention is taken at its word even when the member list does not know the
    user (the console has no member list; a newcomer may not be synced yet).

    :raises StudentError: listing every reference that matches nobody (a
        name) or several members (with their ids and names).
    """
    found: dict[int, Student] = {}
    problems: list[str] = []
    for ref in refs:
        try:
            student = await _resolve(ref, members, bot)
        except _Unresolved as exc:
            problems.append(str(exc))
            continue
        found.setdefault(student.user_id, student)
    if problems:
        raise StudentError(problems)
    return list(found.values())


async def names_of(members: Members, bot: str, user_ids: Iterable[int]) -> dict[int, str]:
    """The display name of each of `user_ids` in `bot`'s member list (``id123`` if unknown)."""
    roster = {m.user_id: m.name for m in await members.all(bot, include_left=True)}
    return {uid: roster.get(uid, f"id{uid}") for uid in user_ids}


class _Unresolved(Exception):
    pass


async def _resolve(ref: str, members: Members, bot: str) -> Student:
    explicit = _explicit_id(ref)
    if explicit is not None and not 0 < explicit <= _MAX_ID:
        raise _Unresolved(_("{ref} is not a user id").format(ref=repr(ref)))
    try:
        member = await members.resolve(ref, bot)
    except MemberLookupError as exc:
        if exc.candidates:
            options = ", ".join(f"{m.name} (id{m.user_id})" for m in exc.candidates)
            raise _Unresolved(
                _("{ref} could be any of: {options}; use an id or a mention").format(
                    ref=repr(ref), options=options
                )
            ) from None
        if explicit is not None:
            return Student(explicit, _mention_name(ref) or f"id{explicit}", known=False)
        if " " in ref.strip():
            problem = _("nobody called {ref} is in the member list; separate students with commas")
        else:
            problem = _("nobody called {ref} is in the member list")
        raise _Unresolved(problem.format(ref=repr(ref))) from None
    return Student(member.user_id, member.name)


def _explicit_id(ref: str) -> int | None:
    match = MENTION.fullmatch(ref) or USER_ID.fullmatch(ref)
    return int(match.group(1)) if match else None


def _mention_name(ref: str) -> str:
    if not MENTION.fullmatch(ref):
        return ""
    return ref[ref.index("|") + 1 : -1].strip()
