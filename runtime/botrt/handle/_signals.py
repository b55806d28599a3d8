"""The signals control functions raise to steer a run.

They derive from `BaseException`, so a node's ``except Exception`` does not
swallow them on their way up to the walk.
"""

from __future__ import annotations


# Outside botrt's tree (and `Exception`) on purpose: a signal is control flow the walk
# catches, never an error; `except BotrtError` in a node must not swallow it.
class Signal(BaseException):
    """A control function's request to the walk (never seen outside a run)."""


class Stop(Signal):
    """End the whole run: raised by stop(), caught where the run started."""


class Bypass(Signal):
    """Leave the current node as if it had finished: raised by bypass()."""


class Rewind(Signal):
    """Run the current node again from its start: raised by rewind()."""
