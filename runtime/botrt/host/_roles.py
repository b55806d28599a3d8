"""Who is an admin: the one mechanism every privileged check goes through."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.host._host import Host


class Roles:
    """Answers "is the sender of this event an admin?".

    An admin is a user listed in ``[bot] admins``, a console or test user
    whose role is ``"admin"``, or whoever a platform says manages the
    community (the ``botrt_is_admin`` hook; VK asks for the managers).
    Plugins receive it by injection (annotate a parameter with `Roles`).
    """

    def __init__(self, host: Host, admins: Callable[[], tuple[int, ...]]) -> None:
        self._host = host
        self._admins = admins

    async def is_admin(self, event: Event) -> bool:
        """Whether the sender of `event` is an admin."""
        user_id = getattr(event, "user_id", None)
        if user_id is not None and user_id in self._admins():
            return True
        role = getattr(event, "role", None)
        if role is not None:
            return role == "admin"
        answer = self._host.pm.hook.botrt_is_admin(host=self._host, event=event)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)
