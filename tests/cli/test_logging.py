"""Secrets are masked in everything `botrt serve` logs, in both formats and every field."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator

import pytest

from botrt.cli._logging import setup_logging

TOKEN = "vk1.a.SeCrEt-token-123"
PASSWORD = 'pa"ss\\w@rd/1'  # needs escaping in JSON, quoting in a URL
SECRETS = [TOKEN, PASSWORD]


class RequestFailed(Exception):
    pass


@pytest.fixture
def logger(capsys: pytest.CaptureFixture[str]) -> Iterator[logging.Logger]:
    """The root logger as `setup_logging` leaves it; put back as it was afterwards."""
    root, watchfiles = logging.getLogger(), logging.getLogger("watchfiles")
    handlers, level, watchfiles_level = root.handlers[:], root.level, watchfiles.level
    yield logging.getLogger("botrt.plugins.leaky")
    watchfiles.setLevel(watchfiles_level)
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str], fmt: str) -> str:
    err = capsys.readouterr().err
    assert err
    if fmt == "json":
        for line in err.splitlines():
            json.loads(line)  # every line is still one valid JSON object
    return err


def forms(secret: str) -> set[str]:
    """How a secret shows in text: as is, inside a repr() and quoted in a URL."""
    return {secret, repr(secret)[1:-1], urllib.parse.quote(secret, safe="")}


def assert_masked(output: str, fmt: str) -> None:
    assert "***" in output
    texts = [output]
    if fmt == "json":
        texts = [value for line in output.splitlines() for value in json.loads(line).values()]
    for text in texts:
        for secret in SECRETS:
            for form in forms(secret):
                assert form not in text, form


def url(secret: str) -> str:
    return f"https://api.vk.com/method/messages.send?access_token={secret}&v=5.199"


def fail(secret: str) -> None:
    raise RequestFailed(f"GET {url(secret)} failed")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_secret_in_an_exceptions_text_is_masked(
    fmt: str, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("DEBUG", fmt, SECRETS)
    try:
        fail(TOKEN)
    except RequestFailed as exc:
        logger.exception("flow failed: %s", exc)
    output = lines(capsys, fmt)
    assert "RequestFailed: GET https://api.vk.com/method/messages.send?access_token=***" in (
        output if fmt == "text" else json.loads(output)["error"]
    )
    assert_masked(output, fmt)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_in_a_chain_of_exceptions_are_masked(
    fmt: str, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("DEBUG", fmt, SECRETS)
    try:
        try:
            fail(TOKEN)
        except RequestFailed as exc:
            first = exc
            try:
                fail(urllib.parse.quote(PASSWORD, safe=""))  # during handling: __context__
            except RequestFailed as second:
                raise RuntimeError(f"giving up on {PASSWORD!r}") from second  # __cause__
    except RuntimeError as caught:
        logger.error("cannot send", exc_info=caught)  # exc_info given as the exception
        chained = caught
    assert chained.__cause__ is not None
    assert chained.__cause__.__context__ is first
    output = lines(capsys, fmt)
    error = output if fmt == "text" else json.loads(output)["error"]
    assert error.count("RequestFailed: GET") == 2
    assert "During handling of the above exception" in error
    assert "The above exception was the direct cause" in error
    assert_masked(output, fmt)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_in_exc_text_and_stack_info_are_masked(
    fmt: str, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("DEBUG", fmt, SECRETS)
    # As a record arrives from another process or a library: texts already rendered.
    record = logger.makeRecord(
        logger.name,
        logging.ERROR,
        __file__,
        1,
        "request to %s failed",
        (url(TOKEN),),
        None,
        sinfo=f'Stack (most recent call last):\n  File "x.py", line 1, in <module>\n    {PASSWORD}',
    )
    record.exc_text = f"Traceback (most recent call last):\nRequestFailed: {url(TOKEN)}"
    logger.handle(record)
    logger.warning("plain %s and stack", TOKEN, stack_info=True)
    output = lines(capsys, fmt)
    if fmt == "json":
        first, second = (json.loads(line) for line in output.splitlines())
        assert first["message"] == f"request to {url('***')} failed"
        assert first["error"].endswith(f"RequestFailed: {url('***')}")
        assert first["stack"].endswith("    ***")
        assert second["stack"].startswith("Stack (most recent call last):")
    else:
        assert f"request to {url('***')} failed" in output
        assert "Stack (most recent call last):" in output
    assert_masked(output, fmt)


def test_without_secrets_nothing_is_changed(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("DEBUG", "json", [])
    logger.info("token %s", TOKEN)
    assert json.loads(capsys.readouterr().err)["message"] == f"token {TOKEN}"
