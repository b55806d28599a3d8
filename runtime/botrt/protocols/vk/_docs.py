"""Sending a file as a VK document: upload server, multipart upload, `docs.save`."""

from __future__ import annotations

import json
import logging
import mimetypes
import random
from collections.abc import Mapping
from typing import Any

from botrt.protocols.vk._api import VkApi
from botrt.protocols.vk._errors import VkApiError, VkPayloadError, VkTransportError

logger = logging.getLogger("botrt.vk.docs")

UPLOAD = "upload"
"""The `method` named by errors of the upload step itself, which is no API method."""


async def upload_document(
    api: VkApi, peer_id: int, filename: str, data: bytes, *, title: str | None = None
) -> str:
    """Upload `data` as a document for conversation `peer_id`; return its attachment string.

    VK's three steps: ``docs.getMessagesUploadServer(type="doc", peer_id=...)``
    gives an upload URL; a multipart POST of the field ``file`` to it (with the
    API client's own aiohttp session) answers a ``file`` string;
    ``docs.save(file=..., title=...)`` turns that into a document. The result,
    ``doc{owner_id}_{id}`` (with ``_{access_key}`` when VK gives one), goes
    into ``messages.send(attachment=...)`` or ``event.reply(text, attachment=...)``.

    The API calls are paced and retried by `api`; the upload POST is retried
    the same way on network errors, timeouts and HTTP 5xx/429.

    :raises VkApiError: if VK refuses an API call, or the upload server answers
        with an error (then `method` is ``"upload"`` and `code` is 0).
    :raises VkTransportError: if the upload server cannot be reached once the
        retries are spent, or answers a status other than 200.
    :raises VkPayloadError: if an answer lacks what the next step needs.
    """
    server = await api.call("docs.getMessagesUploadServer", type="doc", peer_id=peer_id)
    upload_url = server.get("upload_url") if isinstance(server, Mapping) else None
    if not isinstance(upload_url, str) or not upload_url:
        raise VkPayloadError(f"docs.getMessagesUploadServer answered no upload_url: {server!r}")
    file = await _post_file(api, upload_url, filename, data)
    saved = await api.call("docs.save", file=file, title=title)
    return _attachment(saved)


async def _post_file(api: VkApi, url: str, filename: str, data: bytes) -> str:
    # On first use, not at the top: see `VkApi.http_session`.
    import aiohttp

    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    jitter = random.Random()
    started = api.timer.now()
    attempt = 0
    while True:
        attempt += 1
        # A form is consumed by sending it, so each attempt builds its own.
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type=content_type)
        try:
            async with api.http_session().post(
                url, data=form, timeout=aiohttp.ClientTimeout(total=api.timeout)
            ) as response:
                status = response.status
                payload = await response.read()
        except TimeoutError:
            cause = "timeout"
        except aiohttp.ClientError as exc:
            cause = f"network ({type(exc).__name__})"
        else:
            if status == 200:
                return _uploaded_file(payload)
            if status < 500 and status != 429:
                raise VkTransportError(
                    f"the VK upload server answered HTTP {status}", method=UPLOAD, attempts=attempt
                )
            cause = f"HTTP {status}"
        # The URL stays valid for a while, so a failed POST can simply be repeated.
        delay = api.retry.backoff(attempt, 1.0, jitter)
        if not api.retry.allows(attempt, api.timer.now() - started, delay):
            raise VkTransportError(
                f"uploading {filename!r} to VK failed after {attempt} attempt(s): {cause}",
                method=UPLOAD,
                attempts=attempt,
            )
        logger.warning("VK upload: %s; retry %d in %.2fs", cause, attempt, delay)
        await api.timer.sleep(delay)


def _uploaded_file(payload: bytes) -> str:
    # Upload servers report problems inside a 200 answer: {"error": "..."}.
    try:
        body = json.loads(payload)
    except ValueError:
        raise VkPayloadError("the VK upload server answered something that is not JSON") from None
    if not isinstance(body, Mapping):
        raise VkPayloadError(f"the VK upload server answered {body!r}, not an object")
    if body.get("error"):
        detail = body.get("error_descr") or body["error"]
        raise VkApiError(0, str(detail), UPLOAD, raw=body)
    file = body.get("file")
    if not isinstance(file, str) or not file:
        raise VkPayloadError(f"the VK upload server answered no file: {body!r}")
    return file


def _attachment(saved: Any) -> str:
    # API 5.199 answers {"type": "doc", "doc": {...}}; older versions a list of docs.
    if isinstance(saved, list) and saved:
        saved = saved[0]
    doc: Any = None
    if isinstance(saved, Mapping):
        kind = saved.get("type")
        doc = saved.get(kind) if isinstance(kind, str) else saved
        kind = kind if isinstance(kind, str) else "doc"
    if not isinstance(doc, Mapping) or "owner_id" not in doc or "id" not in doc:
        raise VkPayloadError(f"docs.save answered no document: {saved!r}")
    attachment = f"{kind}{int(doc['owner_id'])}_{int(doc['id'])}"
    access_key = doc.get("access_key")
    return f"{attachment}_{access_key}" if access_key else attachment
