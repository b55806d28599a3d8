"""Background work for plugins: tasks the host supervises and cancels when a plugin unloads."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from botrt._errors import BotrtError

log = logging.getLogger("botrt.background")


class BackgroundError(BotrtError):
    """Raised when background work is started while the host is not running."""


class BackgroundTasks:
    """The host's supervisor of plugin tasks: one task group, tasks grouped by plugin.

    Enter it (``async with``) for the host's lifetime; a plugin's tasks are
    cancelled, and waited for, before that plugin unloads.
    """

    def __init__(self) -> None:
        self._tg: TaskGroup | None = None
        self._scopes: dict[str, set[anyio.CancelScope]] = {}
        self._changed = anyio.Event()
        self.deadline: float | None = None

    async def __aenter__(self) -> BackgroundTasks:
        self.deadline = None
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        tg.cancel_scope.cancel()
        return await tg.__aexit__(exc_type, exc, tb)

    def for_plugin(self, plugin: str) -> Background:
        """The handle plugin `plugin` starts its tasks with."""
        return Background(self, plugin)

    def start(
        self, plugin: str, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> None:
        """Run ``fn(*args)`` in the background on behalf of `plugin`.

        :raises BackgroundError: if the host is not running.
        """
        if self._tg is None:
            raise BackgroundError("background work needs a running host")
        scope = anyio.CancelScope()
        if self.deadline is not None:
            scope.cancel()  # the host is stopping: the next start takes the work up
        self._scopes.setdefault(plugin, set()).add(scope)
        label = name or getattr(fn, "__name__", "task")
        self._tg.start_soon(self._run, plugin, scope, fn, args, label, name=f"{plugin}:{label}")

    async def _run(
        self,
        plugin: str,
        scope: anyio.CancelScope,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        label: str,
    ) -> None:
        try:
            with scope:
                await anyio.lowlevel.checkpoint_if_cancelled()  # started while stopping
                await fn(*args)
        except Exception:
            log.exception("plugin %r: background task %r failed", plugin, label)
        finally:
            tasks = self._scopes.get(plugin)
            if tasks is not None:
                tasks.discard(scope)
                if not tasks:
                    del self._scopes[plugin]
            self._changed.set()
            self._changed = anyio.Event()

    def stop_all(self, deadline: float) -> None:
        """Cancel every task, for the host's stop; what they shield must end by `deadline`.

        `deadline` is on `anyio.current_time`'s clock; tasks started from now
        on are cancelled at once.
        """
        if self.deadline is None or deadline < self.deadline:
            self.deadline = deadline
        for scopes in self._scopes.values():
            for scope in scopes:
                scope.cancel()

    def running(self, plugin: str) -> int:
        """How many tasks of `plugin` are running."""
        return len(self._scopes.get(plugin, ()))

    async def wait_idle(self, plugin: str) -> None:
        """Wait until `plugin` has no task running."""
        while self.running(plugin):
            await self._changed.wait()

    async def cancel(self, plugin: str) -> None:
        """Cancel every task of `plugin` and wait until they have ended."""
        for scope in list(self._scopes.get(plugin, ())):
            scope.cancel()
        await self.wait_idle(plugin)


class Background:
    """Starts a plugin's background work: jobs that outlive the event that asked for them.

    Plugins receive it by injection (annotate a parameter with `Background`).
    Tasks are cancelled when the plugin unloads or reloads (the next version's
    `on_load` can resume what they left unfinished); a task that raises is
    logged.
    """

    def __init__(self, tasks: BackgroundTasks, plugin: str) -> None:
        self._tasks = tasks
        self.plugin = plugin

    def start(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None) -> None:
        """Run ``await fn(*args)`` in the background.

        :raises BackgroundError: if the host is not running.
        """
        self._tasks.start(self.plugin, fn, *args, name=name)

    @property
    def deadline(self) -> float | None:
        """None while the host runs; once it stops, when its grace ends (`anyio.current_time`).

        A task that shields a step from cancellation, so that it is not cut
        in half, must end the step by then: the host's stop has one deadline.
        """
        return self._tasks.deadline

    @property
    def running(self) -> int:
        """How many of this plugin's tasks are running."""
        return self._tasks.running(self.plugin)

    async def wait_idle(self) -> None:
        """Wait until none of this plugin's tasks is running (for tests and shutdown)."""
        await self._tasks.wait_idle(self.plugin)
