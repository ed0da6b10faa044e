"""The demo workspace's file uploads: Slack's upload flow (files.getUploadURLExternal, the
upload itself, files.completeUploadExternal) and files.info, in memory.

The shapes follow Slack's and the `emulate` emulator's: the file object has the keys the
emulator's `formatSlackFile` gives, and sharing a file posts a `file_share` message with
the file in it (the initial comment is its text), which the page shows with a download link.
"""

from __future__ import annotations

import json
import mimetypes
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from socialdesk.demo.identity import BOT_USER_ID, ApiError

PREVIEW_LINES = 6  # how much of a text file the page shows under its name (Slack shows a few lines too)
PREVIEW_CHARS = 800
MAX_UPLOAD = 50 * 1024 * 1024  # a demo's exports are small; this only stops a runaway body

_TYPES = {"jpg": "jpg", "jpeg": "jpg", "md": "markdown", "markdown": "markdown"}
_PRETTY = {"auto": "File", "markdown": "Markdown", "txt": "Plain Text", "csv": "CSV", "jsonl": "JSONL",
           "json": "JSON", "pdf": "PDF", "png": "PNG", "jpg": "JPEG", "zip": "Zip"}
_MIME = {"md": "text/markdown", "markdown": "text/markdown", "jsonl": "application/x-ndjson", "csv": "text/csv"}


@dataclass
class Upload:
    """One files.getUploadURLExternal: waiting for its bytes, then for files.completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    data: bytes | None = None
    completed: bool = False


@dataclass
class StoredFile:
    info: dict[str, Any]
    data: bytes = field(repr=False)


def _filetype(name: str, snippet_type: str | None) -> str:
    if snippet_type:
        return snippet_type
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _TYPES.get(ext, ext or "auto")


def _mimetype(name: str, snippet_type: str | None) -> str:
    if snippet_type:
        return "text/plain"
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _MIME.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _is_text(mimetype: str) -> bool:
    return mimetype.startswith("text/") or mimetype in ("application/json", "application/x-ndjson")


class FilesApi:
    """Mixed into WorkspaceState: it provides `lock`, `touch`, `next_ts`, `_channel`, `_bot_message`,
    `team_id`, `base_url` and the ApiError it raises."""

    uploads: dict[str, Upload]
    files: dict[str, StoredFile]

    def _init_files(self) -> None:
        self.uploads = {}
        self.files = {}

    def api_files_getUploadURLExternal(self, p: dict) -> dict:  # noqa: N802 - Slack's method name
        filename = str(p.get("filename") or "").strip()
        try:
            length = int(str(p.get("length")))
        except ValueError:
            length = -1
        if not filename or length < 0:
            raise ApiError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] filename and a length (bytes, 0 or more) are required"]})
        fid = "F" + uuid.uuid4().hex[:10].upper()
        self.uploads[fid] = Upload(fid, filename, length, alt_txt=p.get("alt_txt") or None,
                                   snippet_type=p.get("snippet_type") or None)
        return {"upload_url": f"{self.base_url}/upload/v1/{fid}", "file_id": fid}  # type: ignore[attr-defined]

    def receive_upload(self, file_id: str, data: bytes) -> str | None:
        """The POST to an upload URL; None when taken, else why not (Slack answers these in plain text)."""
        with self.lock:  # type: ignore[attr-defined]
            upload = self.uploads.get(file_id)
            if upload is None or upload.completed:
                return "file_not_found"
            if not data:
                return "invalid_upload"
            upload.data = data
        return None

    def api_files_completeUploadExternal(self, p: dict) -> dict:  # noqa: N802 - Slack's method name
        wanted = p.get("files")
        if isinstance(wanted, str):
            try:
                wanted = json.loads(wanted)
            except ValueError:
                wanted = None
        if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) and f.get("id") for f in wanted):
            raise ApiError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] files must be a JSON array of {\"id\": …, \"title\": …}"]})
        uploads = []
        for f in wanted:
            upload = self.uploads.get(str(f["id"]))
            if upload is None or upload.data is None or upload.completed:
                raise ApiError("file_not_found")
            uploads.append((upload, f.get("title")))
        targets = [str(c) for c in ([p.get("channel_id")] + str(p.get("channels") or "").split(",")) if c]
        channels = []
        for ref in dict.fromkeys(targets):
            ch = self._channel(ref, allow_user=True)  # type: ignore[attr-defined]
            if BOT_USER_ID not in ch.members:
                raise ApiError("not_in_channel")
            channels.append(ch)
        comment = str(p.get("initial_comment") or "")
        thread_ts = p.get("thread_ts") or None
        infos = []
        for upload, title in uploads:
            upload.completed = True
            info = self._file_info(upload, title=title, comment=comment, thread_ts=thread_ts)
            self.files[upload.file_id] = StoredFile(info, upload.data or b"")
            infos.append(info)
        for ch in channels:
            ts = self.next_ts()  # type: ignore[attr-defined]
            for info in infos:
                key = "ims" if ch.is_im else "channels"
                info[key].append(ch.id)
                info["shares"].setdefault("private" if ch.is_im else "public", {})[ch.id] = [
                    {"ts": ts, "channel_name": ch.name, "team_id": self.team_id}]  # type: ignore[attr-defined]
            msg = self._bot_message({"text": comment}, ts)  # type: ignore[attr-defined]
            msg |= {"subtype": "file_share", "files": [dict(i) for i in infos], "upload": True, "display_as_bot": False}
            if thread_ts:
                msg["thread_ts"] = str(thread_ts)
            ch.messages.append(msg)
        return {"files": [dict(i) for i in infos]}

    def api_files_info(self, p: dict) -> dict:
        stored = self.files.get(str(p.get("file") or ""))
        if stored is None:
            raise ApiError("file_not_found")
        return {"file": dict(stored.info), "comments": [], "paging": {"count": 0, "total": 0, "page": 1, "pages": 0}}

    def file_content(self, file_id: str) -> StoredFile | None:
        with self.lock:  # type: ignore[attr-defined]
            return self.files.get(file_id)

    def _file_info(self, upload: Upload, *, title: str | None, comment: str, thread_ts: str | None) -> dict:
        created = int(time.time())
        filetype = _filetype(upload.filename, upload.snippet_type)
        mimetype = _mimetype(upload.filename, upload.snippet_type)
        base = f"{self.base_url}/files-pri/{upload.file_id}/{upload.filename}"  # type: ignore[attr-defined]
        info: dict[str, Any] = {
            "id": upload.file_id, "created": created, "timestamp": created, "name": upload.filename,
            "title": title or upload.filename, "mimetype": mimetype, "filetype": filetype,
            "pretty_type": _PRETTY.get(filetype, filetype.upper()), "user": BOT_USER_ID,
            "user_team": self.team_id, "editable": upload.snippet_type is not None,  # type: ignore[attr-defined]
            "size": len(upload.data or b""), "mode": "snippet" if upload.snippet_type else "hosted",
            "is_external": False, "external_type": "", "is_public": False, "public_url_shared": False,
            "display_as_bot": False, "url_private": base, "url_private_download": base + "?download=1",
            "permalink": f"{self.base_url}/files/{upload.file_id}",  # type: ignore[attr-defined]
            "channels": [], "groups": [], "ims": [], "shares": {}, "comments_count": 0, "is_starred": False,
            "has_rich_preview": False,
        }
        if upload.alt_txt:
            info["alt_txt"] = upload.alt_txt
        if comment:
            info["initial_comment"] = comment
        if thread_ts:
            info["thread_ts"] = str(thread_ts)
        if _is_text(mimetype):
            # Slack's preview of a text file: its first lines, and whether there is more.
            text = (upload.data or b"").decode("utf-8", errors="replace")
            lines = text.splitlines()
            preview = "\n".join(lines[:PREVIEW_LINES])[:PREVIEW_CHARS]
            info |= {"preview": preview, "lines": len(lines), "lines_more": max(0, len(lines) - PREVIEW_LINES),
                     "preview_is_truncated": len(lines) > PREVIEW_LINES or len(preview) < len(text.strip())}
        return info
