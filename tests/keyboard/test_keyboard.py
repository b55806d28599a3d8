"""`botrt.adapter.Keyboard`: the VK JSON it builds and VK's limits it enforces where it is built."""

from __future__ import annotations

import json

import pytest

from botrt.adapter import Keyboard, KeyboardError


def test_a_keyboard_becomes_vks_keyboard_json() -> None:
    kb = Keyboard(one_time=True)
    kb.button("Yes", {"answer": "yes"}, color="positive").button("No", color="negative")
    kb.row().button("Maybe", "later")
    assert kb.to_vk() == {
        "one_time": True,
        "buttons": [
            [
                {
                    "action": {"type": "text", "label": "Yes", "payload": '{"answer":"yes"}'},
                    "color": "positive",
                },
                {"action": {"type": "text", "label": "No"}, "color": "negative"},
            ],
            [{"action": {"type": "text", "label": "Maybe", "payload": '"later"'}}],
        ],
    }
    assert json.loads(kb.to_json()) == kb.to_vk()


def test_an_inline_keyboard_says_inline_and_callback_buttons_say_callback() -> None:
    kb = Keyboard(inline=True).button("Like", {"id": 7}, callback=True, color="primary")
    assert kb.to_vk() == {
        "inline": True,
        "buttons": [
            [
                {
                    "action": {"type": "callback", "label": "Like", "payload": '{"id":7}'},
                    "color": "primary",
                }
            ]
        ],
    }


def test_an_empty_keyboard_is_vks_way_to_remove_the_keyboard() -> None:
    kb = Keyboard()
    assert kb.to_vk() == {"one_time": False, "buttons": []}
    assert not kb
    assert kb.to_text() == ""


def test_labels_as_text_one_line_per_row_and_row_on_an_empty_row_adds_nothing() -> None:
    kb = Keyboard().row().button("Yes").button("No").row().row().button("Cancel")
    assert kb.to_text() == "[Yes] [No]\n[Cancel]"
    assert [len(r) for r in kb.rows] == [2, 1]
    assert kb.find("No") is not None
    assert kb.find("no") is None
    assert [b.label for b in kb] == ["Yes", "No", "Cancel"]


def test_payload_text_keeps_non_ascii_characters() -> None:
    button = Keyboard().button("Да", {"ответ": "да"}).find("Да")
    assert button is not None
    assert button.payload_json() == '{"ответ":"да"}'


def full_rows(kb: Keyboard, rows: int, per_row: int) -> Keyboard:
    for r in range(rows):
        kb.row()
        for c in range(per_row):
            kb.button(f"{r}.{c}")
    return kb


def test_a_standard_keyboard_has_at_most_ten_rows() -> None:
    kb = Keyboard()
    for r in range(10):
        kb.row().button(f"r{r}")
    with pytest.raises(KeyboardError, match="at most 10 rows") as caught:
        kb.row()
    assert (caught.value.limit, caught.value.maximum, caught.value.value) == ("rows", 10, 11)


def test_an_inline_keyboard_has_at_most_six_rows() -> None:
    kb = Keyboard(inline=True)
    for r in range(6):
        kb.row().button(f"r{r}")
    kb.button("extra")  # the last row may still grow
    with pytest.raises(KeyboardError, match="at most 6 rows") as caught:
        kb.row()
    assert (caught.value.limit, caught.value.maximum, caught.value.value) == ("rows", 6, 7)


def test_a_standard_keyboard_has_at_most_forty_buttons() -> None:
    kb = full_rows(Keyboard(), 8, 5)
    assert len(kb) == 40
    with pytest.raises(KeyboardError, match="at most 40") as caught:
        kb.row().button("41")
    assert (caught.value.limit, caught.value.value) == ("buttons", 41)


def test_an_inline_keyboard_has_at_most_ten_buttons() -> None:
    kb = full_rows(Keyboard(inline=True), 2, 5)
    with pytest.raises(KeyboardError, match="inline keyboard holds at most 10") as caught:
        kb.row().button("11")
    assert caught.value.limit == "buttons"


def test_a_row_has_at_most_five_buttons() -> None:
    kb = full_rows(Keyboard(), 1, 5)
    with pytest.raises(KeyboardError, match="row 1 already has 5 buttons") as caught:
        kb.button("six")
    assert (caught.value.limit, caught.value.maximum) == ("buttons_per_row", 5)
    assert len(kb) == 5  # nothing half-added


def test_a_label_has_one_to_forty_characters() -> None:
    Keyboard().button("x" * 40)
    with pytest.raises(KeyboardError, match="41 characters; VK allows at most 40") as caught:
        Keyboard().button("x" * 41)
    assert (caught.value.limit, caught.value.maximum, caught.value.value) == (
        "label_length",
        40,
        41,
    )
    for empty in ("", "   "):
        with pytest.raises(KeyboardError, match="non-empty label") as caught:
            Keyboard().button(empty)
        assert caught.value.limit == "label"


def test_a_payload_is_json_of_at_most_255_characters() -> None:
    Keyboard().button("ok", "x" * 253)  # '"xxx…"' is 255 characters
    with pytest.raises(KeyboardError, match="256 characters as JSON") as caught:
        Keyboard().button("big", "x" * 254)
    assert (caught.value.limit, caught.value.maximum, caught.value.value) == (
        "payload_length",
        255,
        256,
    )
    with pytest.raises(KeyboardError, match="not JSON-serialisable") as caught:
        Keyboard().button("set", {1, 2})
    assert caught.value.limit == "payload"
    with pytest.raises(KeyboardError, match="not JSON-serialisable"):
        Keyboard().button("nan", float("nan"))


def test_colors_are_vks_four() -> None:
    kb = Keyboard()
    for color in ("primary", "secondary", "positive", "negative"):
        kb.button(color, color=color)
    with pytest.raises(KeyboardError, match="unknown color 'default'") as caught:
        kb.row().button("old", color="default")
    assert (caught.value.limit, caught.value.value) == ("color", "default")


def test_an_inline_keyboard_cannot_be_one_time() -> None:
    with pytest.raises(KeyboardError, match="inline keyboard cannot be one_time") as caught:
        Keyboard(inline=True, one_time=True)
    assert caught.value.limit == "one_time"
