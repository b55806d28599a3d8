"""The root of botrt's exception tree."""

from __future__ import annotations


class BotrtError(Exception):
    """Base class of every error botrt raises on purpose.

    Catch it to tell a botrt refusal (bad config, bad plugin, bad flow) from a
    bug in a handler.
    """
