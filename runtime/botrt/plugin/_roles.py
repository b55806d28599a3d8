"""Who is an admin: the one mechanism every privileged check goes through."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botrt.adapter import Event


class Roles:
    """Answers "is the sender of this event an admin?".

    An admin is a user listed in ``[bot] admins``, a console or test user
    whose role is ``"admin"``, or whoever the event's platform says manages
    the community (for VK, the community's managers). Plugins receive it by
    injection (annotate a parameter with `Roles`).
    """

    def __init__(
        self,
        admins: Callable[[], tuple[int, ...]],
        platform_check: Callable[[Event], Any] | None = None,
    ) -> None:
        self._admins = admins
        self._platform_check = platform_check

    async def is_admin(self, event: Event) -> bool:
        """Whether the sender of `event` is an admin."""
        user_id = getattr(event, "user_id", None)
        if user_id is not None and user_id in self._admins():
            return True
        role = getattr(event, "role", None)
        if role is not None:
            return role == "admin"
        if self._platform_check is None:
            return False
        answer = self._platform_check(event)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)
