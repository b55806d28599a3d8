"""`MessageNew.attachment_ids`: VK attachment objects as `messages.send` attachment strings."""

from __future__ import annotations

from typing import Any

from vkhelpers import GROUP_ID

from botrt.protocols.vk import MessageNew, parse_update


def with_attachments(attachments: list[Any]) -> MessageNew:
    message = {"id": 3, "from_id": 7, "peer_id": 7, "text": "", "attachments": attachments}
    update = {
        "type": "message_new",
        "object": {"message": message, "client_info": {}},
        "group_id": GROUP_ID,
        "event_id": "e" * 40,
    }
    event = parse_update(update, bot="g")
    assert isinstance(event, MessageNew)
    return event


def test_media_become_type_owner_id_with_the_access_key_when_given() -> None:
    event = with_attachments(
        [
            {"type": "photo", "photo": {"id": 457239017, "owner_id": 5, "access_key": "ab12"}},
            {"type": "video", "video": {"id": 4, "owner_id": -101, "access_key": ""}},
            {"type": "audio", "audio": {"id": 8, "owner_id": 2}},
            {"type": "doc", "doc": {"id": 9, "owner_id": 5, "access_key": "k9", "ext": "pdf"}},
            {"type": "wall", "wall": {"id": 12, "owner_id": -101, "from_id": -101}},
            {"type": "poll", "poll": {"id": 77, "owner_id": 5}},
            {"type": "market", "market": {"id": "31", "owner_id": "-101"}},
        ]
    )
    assert event.attachment_ids == [
        "photo5_457239017_ab12",
        "video-101_4",
        "audio2_8",
        "doc5_9_k9",
        "wall-101_12",
        "poll5_77",
        "market-101_31",
    ]


def test_an_old_wall_attachment_names_its_wall_to_id() -> None:
    event = with_attachments([{"type": "wall", "wall": {"id": 3, "to_id": -5, "from_id": 9}}])
    assert event.attachment_ids == ["wall-5_3"]


def test_what_cannot_be_sent_by_id_or_is_malformed_is_left_out() -> None:
    event = with_attachments(
        [
            {"type": "sticker", "sticker": {"sticker_id": 9, "product_id": 1}},
            {"type": "link", "link": {"url": "https://example.org"}},
            {"type": "audio_message", "audio_message": {"id": 1, "owner_id": 2}},
            {"type": "photo"},
            {"type": "photo", "photo": {"id": 1}},
            {"type": "doc", "doc": {"id": "x", "owner_id": 1}},
            {"type": "a new type VK adds", "a new type VK adds": {"id": 1, "owner_id": 1}},
            "not an object",
            {"type": ["photo"], "photo": {"id": 1, "owner_id": 1}},
            {"type": "photo", "photo": {"id": 2, "owner_id": 1}},
        ]
    )
    assert event.attachment_ids == ["photo1_2"]


def test_no_attachments_give_an_empty_list() -> None:
    assert with_attachments([]).attachment_ids == []
    event = MessageNew("hi", raw_text="hi", user_id=1, peer_id=1, bot="g")
    assert event.attachment_ids == []
