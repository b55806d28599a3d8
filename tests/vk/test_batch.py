"""execute (25 calls per request, per-call errors) and send_many (100 peers per request)."""

from __future__ import annotations

import pytest

from botrt.protocols.vk import SendResult, VkApi, VkApiError, VkConfigError
from botrt.protocols.vk._batch import build_execute_code
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def test_execute_25_calls_with_one_failing(vk: FakeVK, api: VkApi) -> None:
    vk.block(7, code=901)
    calls: list[tuple[str, dict[str, object]]] = [
        ("messages.send", {"peer_id": 100 + i, "message": f"m{i}"}) for i in range(25)
    ]
    calls[7] = ("messages.send", {"peer_id": 7, "message": "blocked"})
    calls[20] = ("users.get", {"user_ids": [1, 2]})
    results = await api.execute(calls)
    assert vk.calls == {"execute": 1}
    assert len(results) == 25
    failed = results[7]
    assert isinstance(failed, VkApiError)
    assert (failed.code, failed.method, failed.unreachable) == (901, "messages.send", True)
    assert failed.params["peer_id"] == 7
    assert [u["id"] for u in results[20]] == [1, 2]
    ok = [r for i, r in enumerate(results) if i not in (7, 20)]
    assert all(isinstance(r, int) for r in ok)
    assert len(vk.sent) == 23
    assert all(m.random_id != 0 for m in vk.sent)


async def test_execute_splits_into_requests_of_25(vk: FakeVK, api: VkApi) -> None:
    calls = [("users.get", {"user_ids": i}) for i in range(1, 61)]
    results = await api.execute(calls)
    assert vk.calls == {"execute": 3}
    assert [r[0]["id"] for r in results] == list(range(1, 61))


async def test_execute_maps_errors_in_order_and_keeps_plain_false(vk: FakeVK, api: VkApi) -> None:
    results = await api.execute(
        [("nosuch.one", {}), ("users.get", {"user_ids": 1}), ("nosuch.two", {})]
    )
    first, middle, last = results
    assert isinstance(first, VkApiError)
    assert isinstance(last, VkApiError)
    assert (first.code, first.method, last.method) == (3, "nosuch.one", "nosuch.two")
    assert middle[0]["id"] == 1


async def test_execute_code_is_vkscript_with_json_arguments() -> None:
    code = build_execute_code(
        [("messages.send", {"peer_ids": [1, 2], "message": 'he said "hi"', "x": None})]
    )
    assert code == ('return [API.messages.send({"peer_ids":"1,2","message":"he said \\"hi\\""})];')
    with pytest.raises(VkConfigError, match="method name"):
        build_execute_code([("return 1;//", {})])


async def test_send_many_250_peers_with_unreachable_ones(vk: FakeVK, api: VkApi) -> None:
    peers = list(range(1000, 1250))
    vk.block(1003, code=901)
    vk.block(1150, code=902)
    vk.block(1249, code=901)
    results = await api.send_many(peers, "news", random_id=4242)
    assert vk.calls == {"messages.send": 3}  # 100 + 100 + 50
    assert [r.peer_id for r in results] == peers
    bad = {r.peer_id: r.error_code for r in results if not r.ok}
    assert bad == {1003: 901, 1150: 902, 1249: 901}
    assert all(r.unreachable for r in results if not r.ok)
    assert all(r.message_id for r in results if r.ok)
    assert len(vk.sent) == 247
    # A rerun with the same random_id (a job resumed after a crash) sends nothing new.
    again = await api.send_many(peers, "news", random_id=4242)
    assert len(vk.sent) == 247
    assert [r.message_id for r in again] == [r.message_id for r in results]


async def test_send_many_reports_whole_request_errors_per_peer(vk: FakeVK, api: VkApi) -> None:
    results = await api.send_many([1, 2, 3], "x" * 5000)
    assert results == [
        SendResult(p, error_code=914, error_message="Message is too long") for p in (1, 2, 3)
    ]
    assert not any(r.unreachable for r in results)
    assert await api.send_many([], "nobody") == []
