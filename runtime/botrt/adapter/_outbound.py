"""What a platform offers besides events: sending on its own, and its member list."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Recipient errors after which retrying is pointless: blacklisted, never allowed
# messages from the community, or privacy settings (VK's 900, 901, 902).
UNREACHABLE = frozenset({900, 901, 902})


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What happened to one recipient of `Outbound.send_many`.

    Attributes:
        peer_id: the recipient.
        ok: the platform accepted the message.
        error_code: the platform's error code when it did not.
        error: the platform's description of the error.
    """

    peer_id: int
    ok: bool
    error_code: int | None = None
    error: str | None = None

    @property
    def unreachable(self) -> bool:
        """The recipient cannot be messaged at all (blocked the bot, privacy, ...)."""
        return self.error_code in UNREACHABLE


class Outbound(abc.ABC):
    """Sending messages for one bot account without an event to reply to.

    Attributes:
        platform: the platform's name.
        batch_size: how many recipients one `send_many` call should carry, so a
            job can record progress after each call.
    """

    platform: str = ""
    batch_size: int = 100

    @abc.abstractmethod
    async def send(self, peer_id: int, text: str, **options: Any) -> None:
        """Send `text` to one conversation.

        :raises Exception: the platform's error when it refuses.
        """

    @abc.abstractmethod
    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        """Send `text` to every peer; one outcome per peer, in order.

        `key` identifies the job: sending again with the same key must not
        deliver twice where the platform can prevent it (VK: `random_id`).
        Per-recipient failures are outcomes, not exceptions.
        """


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as a platform reports it.

    Attributes:
        user_id: the user.
        first_name: given name, may be empty.
        last_name: family name, may be empty.
        manager_role: the user's management role in the community
            (VK: moderator, editor, administrator, creator), None for others.
    """

    user_id: int
    first_name: str = ""
    last_name: str = ""
    manager_role: str | None = None


class MemberSource(abc.ABC):
    """Lists a bot's community members, with names and who manages it."""

    @abc.abstractmethod
    async def fetch(self) -> list[MemberInfo]:
        """Every member (managers included, flagged by `manager_role`).

        :raises Exception: the platform's error; the host keeps the stored list.
        """
