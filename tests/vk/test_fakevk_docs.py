"""FakeVK's documents: upload URL, upload, `docs.save`, and sending the doc as an attachment."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from vkhelpers import GROUP_ID

from botrt.protocols.vk import VkApi, VkApiError
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def upload(url: str, data: bytes, filename: str = "notes.txt") -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="text/plain")
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as response:
        assert response.status == 200
        return await response.json()


async def test_upload_save_and_send(vk: FakeVK, api: VkApi) -> None:
    server = await api.docs.getMessagesUploadServer(type="doc", peer_id=5)
    assert server["upload_url"].startswith(vk.api_url.removesuffix("/method"))
    uploaded = await upload(server["upload_url"], b"hello, doc")
    saved = await api.docs.save(file=uploaded["file"], title="Notes")
    assert saved["type"] == "doc"
    doc = saved["doc"]
    assert {k: doc[k] for k in ("id", "owner_id", "title", "size", "ext", "type")} == {
        "id": 1,
        "owner_id": -GROUP_ID,
        "title": "Notes",
        "size": 10,
        "ext": "txt",
        "type": 1,
    }
    async with aiohttp.ClientSession() as session, session.get(doc["url"]) as response:
        assert await response.read() == b"hello, doc"
    [stored] = vk.docs
    assert (stored.filename, stored.data, stored.peer_id) == ("notes.txt", b"hello, doc", 5)
    assert stored.attachment == f"doc-{GROUP_ID}_1"

    # An attachment alone is a message; FakeVK records it as sent.
    await api.messages.send(peer_id=5, message="", attachment=stored.attachment)
    assert vk.sent_to(5)[0].attachment == f"doc-{GROUP_ID}_1"
    assert vk.sent_to(5)[0].params["attachment"] == f"doc-{GROUP_ID}_1"


async def test_save_inside_execute_defaults_the_title(vk: FakeVK, api: VkApi) -> None:
    server = await api.docs.getMessagesUploadServer(peer_id=5)
    uploaded = await upload(server["upload_url"], b"x", filename="report.PDF")
    [saved] = await api.execute([("docs.save", {"file": uploaded["file"]})])
    assert (saved["doc"]["title"], saved["doc"]["ext"], saved["doc"]["type"]) == (
        "report.PDF",
        "pdf",
        7,
    )


async def test_bad_uploads_and_saves(vk: FakeVK, api: VkApi) -> None:
    with pytest.raises(VkApiError) as info:
        await api.docs.getMessagesUploadServer(type="audio_message", peer_id=5)
    assert info.value.code == 100
    server = await api.docs.getMessagesUploadServer(peer_id=5)
    async with (
        aiohttp.ClientSession() as session,
        session.post(server["upload_url"], data={"other": "x"}) as response,
    ):
        assert "error" in await response.json()
    assert "error" in await upload(server["upload_url"] + "0", b"x")
    uploaded = await upload(server["upload_url"], b"x")
    await api.docs.save(file=uploaded["file"])
    for file in (uploaded["file"], "nonsense"):  # a file is saved once
        with pytest.raises(VkApiError) as info:
            await api.docs.save(file=file)
        assert info.value.code == 100
    assert len(vk.docs) == 1


async def test_upload_faults(vk: FakeVK, api: VkApi) -> None:
    server = await api.docs.getMessagesUploadServer(peer_id=5)
    vk.fail_next("upload", http_status=502)
    form = aiohttp.FormData()
    form.add_field("file", b"x", filename="a.txt")
    async with aiohttp.ClientSession() as session:
        async with session.post(server["upload_url"], data=form) as response:
            assert response.status == 502
        assert "file" in await upload(server["upload_url"], b"x")
