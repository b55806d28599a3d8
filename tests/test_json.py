"""`botrt._json`: orjson when installed (``botrt[speed]``), the standard library otherwise,
with the same results; and the VK wire code working on either."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botrt import _json
from botrt.protocols.vk._batch import build_execute_code
from botrt.protocols.vk._params import encode_value

PAYLOADS = Path(__file__).parents[1].parent / "shared" / "vk-payloads"
HAS_ORJSON = importlib.util.find_spec("orjson") is not None

# What botrt writes: parameters (keyboards, forwards, templates), execute arguments.
WRITTEN: list[Any] = [
    {"one_time": False, "buttons": [[{"action": {"type": "text", "label": "Да ✓"}}]]},
    {"peer_id": 2000000001, "conversation_message_ids": [1, 2], "is_reply": True},
    [{"a": None}, [1, -2, 2**40], 'кириллица "quoted" \\ \n\t\u0001 \u2028'],
    {"emoji": "😀", "nested": {"deep": [{"x": ""}]}, 7: "int key"},
    [],
    {},
]


@pytest.fixture
def stdlib_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """orjson cannot be imported, and `codec()` chooses again."""
    monkeypatch.setitem(sys.modules, "orjson", None)
    _json.codec.cache_clear()
    yield
    _json.codec.cache_clear()


def vk_bodies() -> list[bytes]:
    if not PAYLOADS.is_dir():
        pytest.skip(f"{PAYLOADS} is not available")
    return [p.read_bytes() for p in sorted(PAYLOADS.glob("*.json"))]


def test_stdlib_codec_writes_compact_json_with_text_as_is() -> None:
    codec = _json.stdlib_codec()
    assert codec.dumps({"a": [1, "ж"], 2: None}) == '{"a":[1,"ж"],"2":null}'
    assert codec.loads(b'{"a": [1, "\\u0436"]}') == {"a": [1, "ж"]}
    with pytest.raises(ValueError, match="Expecting"):
        codec.loads(b"<html>502</html>")


def test_without_orjson_the_standard_library_runs(stdlib_only: None) -> None:
    assert _json.codec().name == "json"
    assert _json.dumps({"k": "й"}) == '{"k":"й"}'
    assert _json.loads('{"k":"й"}') == {"k": "й"}
    # The VK wire code on the stdlib path: parameters and execute scripts.
    assert encode_value({"buttons": []}) == '{"buttons":[]}'
    assert build_execute_code([("messages.send", {"peer_id": 1, "message": "привет"})]) == (
        'return [API.messages.send({"peer_id":1,"message":"привет"})];'
    )


def test_importing_botrt_json_imports_no_codec() -> None:
    # Resolved on first use: `import botrt` must not pay for orjson.
    code = "import sys, botrt._json; print('orjson' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(not HAS_ORJSON, reason="orjson is not installed (the speed extra)")
class TestOrjson:
    def test_it_is_chosen_when_installed(self) -> None:
        _json.codec.cache_clear()
        try:
            assert _json.codec().name == "orjson"
        finally:
            _json.codec.cache_clear()

    @pytest.mark.parametrize("value", WRITTEN)
    def test_it_writes_what_the_standard_library_writes(self, value: Any) -> None:
        assert _json.orjson_codec().dumps(value) == _json.stdlib_codec().dumps(value)

    def test_it_reads_vk_payloads_as_the_standard_library_does(self) -> None:
        fast, slow = _json.orjson_codec(), _json.stdlib_codec()
        for body in vk_bodies():
            assert fast.loads(body) == slow.loads(body)
            assert fast.loads(body.decode()) == json.loads(body)

    def test_bad_json_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match=r"."):
            _json.orjson_codec().loads(b"<html>502</html>")

    def test_integers_past_64_bits_fall_back_to_the_standard_library(self) -> None:
        assert _json.orjson_codec().dumps({"n": 2**70}) == f'{{"n":{2**70}}}'
