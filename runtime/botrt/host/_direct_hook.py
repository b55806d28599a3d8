"""`DirectHook`: a pluggy hook called for every event, without pluggy's call machinery.

pluggy's `HookCaller` costs a few microseconds a call (argument checks, the
multicall loop and its exception handling), paid for every event by
``botrt_event_received`` on a VK host (its member tracker). With plain
implementations only, calling their functions ourselves gives the same
results, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy


class DirectHook:
    """Calls a hook's implementations as pluggy would, for a hook that is not ``firstresult``.

    Like ``caller(**kwargs)``: every implementation, last registered first
    (pluggy's order, `tryfirst`/`trylast` included), with the arguments it
    names; returns the results that are not None. Every call checks that the
    implementations are still those of the last call, so one registered,
    removed or replaced (a hook module reloaded) later is seen; when one of
    them is a wrapper, the call goes through pluggy.
    """

    __slots__ = ("_caller", "_impls", "_live", "_plan")

    def __init__(self, caller: pluggy.HookCaller) -> None:
        """Call the implementations of `caller` (``pm.hook.<name>``)."""
        self._caller = caller
        # pluggy keeps a hook's implementations in one list (declared Final) that
        # register and unregister change in place: comparing it with our copy spots
        # any change without `get_hookimpls` copying it for every event. A pluggy
        # without that list gets the copy.
        live = getattr(caller, "_hookimpls", None)
        self._live: list[pluggy.HookImpl] | None = live if isinstance(live, list) else None
        self._impls: list[pluggy.HookImpl] = []
        # (function, argument names) in call order; None: go through pluggy.
        self._plan: list[tuple[Callable[..., Any], tuple[str, ...]]] | None = []

    def __call__(self, **kwargs: Any) -> list[Any]:
        """The results of the implementations that returned something.

        :raises Exception: what an implementation raised (the later ones are not called).
        """
        caller = self._caller
        impls = self._live
        if impls is None:
            impls = caller.get_hookimpls()
        if impls != self._impls:  # HookImpl compares by identity: a registration changed
            self._impls = impls.copy()
            if any(impl.hookwrapper or impl.wrapper for impl in impls):
                self._plan = None
            else:
                self._plan = [(impl.function, tuple(impl.argnames)) for impl in reversed(impls)]
        plan = self._plan
        if plan is None:
            return list(caller(**kwargs))
        results = []
        for function, names in plan:
            result = function(*[kwargs[name] for name in names])
            if result is not None:
                results.append(result)
        return results
