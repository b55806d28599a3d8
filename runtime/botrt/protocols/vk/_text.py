"""Text helpers for VK messages: the 4096-character limit and leading bot mentions."""

from __future__ import annotations

import re

from botrt.adapter import MESSAGE_LIMIT, split_text

MAX_MESSAGE_LENGTH = MESSAGE_LIMIT
"""VK's documented text limit for one message (longer text gets error 914)."""

# `[club123|@name]` is what VK puts in the text when a user picks the
# community from the mention list; some clients write `public` instead of
# `club`. Users often follow the mention with a comma or colon.
_LEADING_MENTION = re.compile(r"^\s*\[(?:club|public)(\d+)\|[^\]]*\]\s*[,:]?\s*")


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split `text` into pieces VK accepts (see `botrt.adapter.split_text`).

    :raises ValueError: if `limit` is less than 1.
    """
    return split_text(text, limit)


def strip_leading_mention(text: str, group_id: int | None) -> str:
    """Return `text` without a leading mention of community `group_id`.

    `"[club123|@bot] /help"` becomes `"/help"` when `group_id` is 123; a
    mention of another community, or a mention that is not at the start, is
    left alone. With `group_id` None the text is returned unchanged.
    """
    if group_id is None or "[" not in text:  # the usual message: no mention to look for
        return text
    match = _LEADING_MENTION.match(text)
    if match is None or int(match.group(1)) != abs(group_id):
        return text
    return text[match.end() :]
