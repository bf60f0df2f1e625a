"""`GET /_files/export/<name>`: an export the signed-in user wrote, sent as a download.

The session cookie says who asks; only that user's exports folder is looked in, so
another user's export (or a guessed name) is a 404. The file is streamed from disk
and deleted once sent: an export is a one-time download, not storage.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from pyairtable_ui.api.session_cookie import session_token_from_cookie_header
from pyairtable_ui.auth import flows
from pyairtable_ui.automations.exports import download_name, export_path

logger = logging.getLogger(__name__)

_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def download_export(request: Request) -> Response:
    """Send the user's export, then delete it."""
    token = session_token_from_cookie_header(request.headers.get("cookie", ""))
    user = await flows.signed_in_user(token)
    user_id = user.id if user is not None else None
    if user_id is None:
        return PlainTextResponse("Sign in to download your export.\n", status_code=401)
    name = str(request.path_params.get("name", ""))
    path = export_path(user_id, name)
    if path is None:
        return PlainTextResponse(
            "This export is gone (each is downloaded once). Export again.\n", status_code=404
        )
    logger.info("export downloaded user_id=%s", user_id)
    return FileResponse(
        path,
        media_type=_TYPES.get(path.suffix, "application/octet-stream"),
        filename=download_name(name),
        headers={"cache-control": "no-store"},
        background=BackgroundTask(Path.unlink, path, missing_ok=True),
    )
