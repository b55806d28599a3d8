"""`upload_document`: a file becomes a VK document attachment, against FakeVK."""

from __future__ import annotations

import pytest
from vkhelpers import GROUP_ID

from botrt.protocols.vk import VkApi, VkApiError, upload_document
from botrt.protocols.vk._errors import VkTransportError
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def test_uploads_saves_and_returns_the_attachment(vk: FakeVK, api: VkApi) -> None:
    data = "date,name\n2026-09-01,Анна\n".encode()
    attachment = await upload_document(api, 5, "marks.csv", data, title="Marks")
    assert attachment == f"doc-{GROUP_ID}_1"
    [doc] = vk.docs
    assert (doc.filename, doc.title, doc.data, doc.peer_id) == ("marks.csv", "Marks", data, 5)
    assert vk.calls["docs.getMessagesUploadServer"] == 1
    assert vk.calls["docs.save"] == 1

    await api.messages.send(peer_id=5, message="here", attachment=attachment)
    assert vk.sent_to(5)[0].attachment == attachment


async def test_the_title_defaults_to_the_file_name(vk: FakeVK, api: VkApi) -> None:
    await upload_document(api, 2000000001, "report.txt", b"x")
    [doc] = vk.docs
    assert (doc.title, doc.peer_id) == ("report.txt", 2000000001)


async def test_a_failed_upload_post_is_retried(vk: FakeVK, api: VkApi) -> None:
    vk.fail_next("upload", http_status=502)
    vk.drop_next_connection("upload")
    attachment = await upload_document(api, 5, "a.csv", b"1")
    assert attachment == f"doc-{GROUP_ID}_1"
    assert [d.data for d in vk.docs] == [b"1"]


async def test_an_upload_server_that_keeps_failing_raises_a_transport_error(
    vk: FakeVK, api: VkApi
) -> None:
    vk.fail_next("upload", http_status=503, times=10)
    with pytest.raises(VkTransportError) as info:
        await upload_document(api, 5, "a.csv", b"1")
    assert info.value.method == "upload"
    assert info.value.attempts == api.retry.max_retries + 1
    assert "HTTP 503" in str(info.value)
    assert vk.docs == []


async def test_api_errors_are_typed(vk: FakeVK, api: VkApi) -> None:
    vk.fail_next("docs.getMessagesUploadServer", vk_error=15)
    with pytest.raises(VkApiError) as info:
        await upload_document(api, 5, "a.csv", b"1")
    assert (info.value.code, info.value.method) == (15, "docs.getMessagesUploadServer")

    vk.fail_next("docs.save", vk_error=100)
    with pytest.raises(VkApiError) as info:
        await upload_document(api, 5, "a.csv", b"1")
    assert (info.value.code, info.value.method) == (100, "docs.save")
    assert vk.docs == []


async def test_an_upload_refused_by_the_server_is_an_api_error(
    vk: FakeVK, api: VkApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FakeVK answers {"error": ...} for an unknown upload URL, as VK's upload servers do.
    real_call = api.call

    async def broken_url(method: str, **params: object) -> object:
        answer = await real_call(method, **params)
        if method == "docs.getMessagesUploadServer":
            return {"upload_url": answer["upload_url"] + "-expired"}
        return answer

    monkeypatch.setattr(api, "call", broken_url)
    with pytest.raises(VkApiError) as info:
        await upload_document(api, 5, "a.csv", b"1")
    assert info.value.method == "upload"
    assert "invalid or expired" in info.value.message
    assert vk.calls["docs.save"] == 0
