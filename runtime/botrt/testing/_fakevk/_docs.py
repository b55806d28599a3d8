"""Documents for messages: `docs.getMessagesUploadServer`, the upload URL, `docs.save`.

VK's flow, kept here on the fake server: the method hands out an upload URL,
a multipart POST of the field `file` to it answers `{"file": "..."}`, and
`docs.save(file=...)` turns that string, once, into a `doc` object whose
`doc<owner_id>_<id>` goes into `messages.send(attachment=...)`. Only
`type=doc` is stored; a community's documents are owned by `-group_id`.
"""

from __future__ import annotations

import secrets
import time
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from botrt.testing._fakevk._faults import Faults
from botrt.testing._fakevk._state import Group, SavedDoc, State, UploadedFile, invalid_param

# VK's document type codes by extension; anything else is 8, "unknown".
_DOC_TYPES = {
    **dict.fromkeys(("txt", "doc", "docx", "odt", "rtf", "csv"), 1),
    **dict.fromkeys(("zip", "rar", "7z", "gz", "tar"), 2),
    "gif": 3,
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "bmp"), 4),
    **dict.fromkeys(("mp3", "ogg", "wav", "m4a"), 5),
    **dict.fromkeys(("mp4", "avi", "mkv", "webm", "mov"), 6),
    **dict.fromkeys(("pdf", "epub", "djvu", "fb2"), 7),
}


def get_messages_upload_server(state: State, group: Group, p: dict[str, str]) -> dict[str, str]:
    """`docs.getMessagesUploadServer`: return `{"upload_url": ...}` on the fake server."""
    if p.get("type", "doc") != "doc":
        raise invalid_param("type: FakeVK stores only type=doc")
    peer_id = int(p["peer_id"]) if p.get("peer_id") else None
    key = secrets.token_hex(16)
    state.upload_urls[key] = (group.group_id, peer_id)
    return {"upload_url": f"{state.base_url}/upload/doc/{key}"}


def save(state: State, group: Group, p: dict[str, str]) -> dict[str, Any]:
    """`docs.save`: store an uploaded file as a document; return `{"type": "doc", "doc": ...}`."""
    uploaded = state.uploads.get(p.get("file", ""))
    if uploaded is None or uploaded.group_id != group.group_id:
        raise invalid_param("file is invalid")
    del state.uploads[p["file"]]
    doc = SavedDoc(
        group_id=group.group_id,
        owner_id=-group.group_id,
        doc_id=len(state.docs) + 1,
        title=p.get("title") or uploaded.filename,
        filename=uploaded.filename,
        data=uploaded.data,
        peer_id=uploaded.peer_id,
        tags=p.get("tags", ""),
    )
    state.docs.append(doc)
    ext = PurePosixPath(doc.filename).suffix.lstrip(".").lower()
    return {
        "type": "doc",
        "doc": {
            "id": doc.doc_id,
            "owner_id": doc.owner_id,
            "title": doc.title,
            "size": len(doc.data),
            "ext": ext,
            "date": int(time.time()),
            "type": _DOC_TYPES.get(ext, 8),
            "url": f"{state.base_url}/doc/{doc.owner_id}_{doc.doc_id}",
        },
    }


class DocsEndpoint:
    """The HTTP side of documents: the upload URL and the download URL of a saved doc."""

    def __init__(self, state: State, faults: Faults) -> None:
        """Serve uploads into `state`, subject to faults injected for `"upload"`."""
        self._state = state
        self._faults = faults

    async def upload(self, request: web.Request) -> web.Response:
        """Take a multipart `file` posted to an upload URL; answer `{"file": ...}`.

        Like VK's upload servers, problems are answered as `{"error": ...}` with status 200.
        """
        try:
            early = await self._faults.intercept(request, "upload")
            if early is not None:
                return early
            target = self._state.upload_urls.get(request.match_info["key"])
            if target is None:
                return web.json_response({"error": "upload url is invalid or expired"})
            field = (await request.post()).get("file")
            if not isinstance(field, web.FileField):
                return web.json_response({"error": "no file in the field 'file'"})
            group_id, peer_id = target
            token = f"{group_id}|{secrets.token_hex(16)}"
            self._state.uploads[token] = UploadedFile(
                group_id, peer_id, field.filename, field.file.read()
            )
            return web.json_response({"file": token})
        finally:
            self._state.note_change()

    async def download(self, request: web.Request) -> web.Response:
        """Serve the bytes of a saved document at its `url`, or 404."""
        for doc in self._state.docs:
            if f"{doc.owner_id}_{doc.doc_id}" == request.match_info["doc"]:
                return web.Response(body=doc.data, content_type="application/octet-stream")
        return web.Response(status=404, text="not found")
