"""The stored roster of every bot's community: who is a member, their names, who manages it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, Column, Float, String, select, update

from botrt._errors import BotrtError
from botrt.adapter import MemberInfo
from botrt.storage import PluginStorage

# Ids in the digits 0-9 only: \d without re.ASCII takes "١" or "１", read as 1.
_MENTION = re.compile(r"^\[id(\d+)\|[^\]]*\]$", re.ASCII)
_ID = re.compile(r"^(?:id)?(\d+)$", re.ASCII)


class MemberLookupError(BotrtError):
    """Raised when a student or member reference matches nobody, or several people.

    Attributes:
        query: what was looked up.
        candidates: the members it could mean (empty when none).
    """

    def __init__(self, query: str, candidates: list[Member]) -> None:
        self.query = query
        self.candidates = candidates
        if candidates:
            names = ", ".join(f"{m.name} (id{m.user_id})" for m in candidates)
            message = f"{query!r} could be any of: {names}; use an id or a mention"
        else:
            message = f"nobody called {query!r} is in the member list"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Member:
    """One member of one bot's community.

    Attributes:
        bot: the bot account (``[[bots]] name``) whose community this is.
        user_id: the user.
        first_name: given name.
        last_name: family name.
        manager_role: their management role (VK: administrator, ...), or None.
        is_member: False once they left (kept for history).
    """

    bot: str
    user_id: int
    first_name: str
    last_name: str
    manager_role: str | None
    is_member: bool

    @property
    def name(self) -> str:
        """ "First Last", or ``id123`` when no name is known."""
        return f"{self.first_name} {self.last_name}".strip() or f"id{self.user_id}"

    @property
    def mention(self) -> str:
        """A VK-style mention: ``[id123|First Last]``."""
        return f"[id{self.user_id}|{self.name}]"


class Members:
    """Every bot's member list, stored, kept in sync with the platforms by the host.

    Plugins receive it by injection (annotate a parameter with `Members`).
    Admins are the community's managers plus ``[bot] admins``.
    """

    def __init__(self, storage: PluginStorage, config_admins: Callable[[], Iterable[int]]) -> None:
        self._ps = storage
        self._config_admins = config_admins
        self._table = storage.table(
            "members",
            Column("bot", String(100), primary_key=True),
            Column("user_id", BigInteger, primary_key=True, autoincrement=False),
            Column("first_name", String(200), nullable=False, default=""),
            Column("last_name", String(200), nullable=False, default=""),
            Column("manager_role", String(50), nullable=True),
            Column("is_member", Boolean, nullable=False, default=True),
            Column("updated_at", Float, nullable=False),
        )

    async def setup(self) -> None:
        """Create the table if needed.

        :raises StorageError: if the database cannot be reached.
        """
        await self._ps.migrate(1)

    # -- writing (the host's sync, join/leave events, tests) -------------------

    async def sync(self, bot: str, infos: Iterable[MemberInfo]) -> int:
        """Make `infos` the member list of `bot`; others are marked as having left.

        Returns how many members `bot` has now. Committed before it returns.
        """
        now = time.time()
        rows = [
            {
                "bot": bot,
                "user_id": i.user_id,
                "first_name": i.first_name,
                "last_name": i.last_name,
                "manager_role": i.manager_role,
                "is_member": True,
                "updated_at": now,
            }
            for i in infos
        ]
        t = self._table
        async with self._ps.begin() as conn:
            await conn.execute(
                update(t).where(t.c.bot == bot).values(is_member=False, manager_role=None)
            )
            if rows:
                await self._ps.upsert(t, rows, key=["bot", "user_id"], conn=conn)
        return len(rows)

    async def joined(
        self, bot: str, user_id: int, first_name: str = "", last_name: str = ""
    ) -> None:
        """Record that `user_id` joined `bot`'s community (names kept if already known)."""
        t = self._table
        existing = await self.get(user_id, bot)
        await self._ps.upsert(
            t,
            {
                "bot": bot,
                "user_id": user_id,
                "first_name": first_name or (existing.first_name if existing else ""),
                "last_name": last_name or (existing.last_name if existing else ""),
                "manager_role": existing.manager_role if existing else None,
                "is_member": True,
                "updated_at": time.time(),
            },
            key=["bot", "user_id"],
        )

    async def left(self, bot: str, user_id: int) -> None:
        """Record that `user_id` left `bot`'s community."""
        t = self._table
        await self._ps.execute(
            update(t)
            .where(t.c.bot == bot, t.c.user_id == user_id)
            .values(is_member=False, updated_at=time.time())
        )

    # -- reading -----------------------------------------------------------------

    async def all(self, bot: str | None = None, *, include_left: bool = False) -> list[Member]:
        """The members of `bot` (every bot when None), by name."""
        t = self._table
        query = select(t)
        if bot is not None:
            query = query.where(t.c.bot == bot)
        if not include_left:
            query = query.where(t.c.is_member.is_(True))
        rows = await self._ps.fetch_all(query)
        members = [_member(r) for r in rows]
        return sorted(members, key=lambda m: (m.last_name.lower(), m.first_name.lower(), m.user_id))

    async def get(self, user_id: int, bot: str | None = None) -> Member | None:
        """The stored member `user_id` (of `bot`, or of any bot), or None."""
        t = self._table
        query = select(t).where(t.c.user_id == user_id)
        if bot is not None:
            query = query.where(t.c.bot == bot)
        rows = await self._ps.fetch_all(query.order_by(t.c.is_member.desc()))
        return _member(rows[0]) if rows else None

    def config_admins(self) -> set[int]:
        """The ids listed in ``[bot] admins``."""
        return set(self._config_admins())

    async def admin_ids(self, bot: str | None = None) -> set[int]:
        """Managers of `bot` (every bot when None) and ``[bot] admins``."""
        t = self._table
        query = select(t.c.user_id).where(t.c.manager_role.is_not(None), t.c.is_member.is_(True))
        if bot is not None:
            query = query.where(t.c.bot == bot)
        rows = await self._ps.fetch_all(query)
        return {int(r[0]) for r in rows} | self.config_admins()

    async def is_manager(self, bot: str, user_id: int) -> bool:
        """Whether `user_id` manages `bot`'s community."""
        member = await self.get(user_id, bot)
        return member is not None and member.is_member and member.manager_role is not None

    async def resolve(self, query: str, bot: str | None = None) -> Member:
        """The member `query` means: a mention ``[id123|Name]``, an id, or a name.

        Names match case-insensitively on the full name, the last name or the
        first name, in that order of preference.

        :raises MemberLookupError: if nobody matches, or several people do.
        """
        text = query.strip()
        match = _MENTION.match(text) or _ID.match(text)
        if match:
            member = await self.get(int(match.group(1)), bot)
            if member is None:
                raise MemberLookupError(query, [])
            return member
        wanted = " ".join(text.lower().split())
        roster = await self.all(bot)
        for key in (
            lambda m: m.name.lower(),
            lambda m: f"{m.last_name} {m.first_name}".strip().lower(),
            lambda m: m.last_name.lower(),
            lambda m: m.first_name.lower(),
        ):
            found = [m for m in roster if key(m) == wanted]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise MemberLookupError(query, found)
        raise MemberLookupError(query, [])


def _member(row: object) -> Member:
    r = row._mapping  # type: ignore[attr-defined]
    return Member(
        bot=r["bot"],
        user_id=int(r["user_id"]),
        first_name=r["first_name"] or "",
        last_name=r["last_name"] or "",
        manager_role=r["manager_role"],
        is_member=bool(r["is_member"]),
    )
