"""A signed-in user's current Airtable access: their token (refreshed if OAuth), checked."""

from __future__ import annotations

from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.auth.models import User
from pyairtable_ui.db import session_scope
from pyairtable_ui.settings import get_settings


def check_user_access(*, user_id: int) -> connections.TokenCheck:
    """Ask Airtable what the user's stored token may see now (bases, scopes).

    Blocking: call it through a thread from handlers.

    Args:
        user_id: The signed-in user.

    Returns:
        The account, scopes and bases the token sees.

    Raises:
        connections.AirtableTokenError: Not connected, token refused, no bases, unreachable.
        crypto.SecretDecryptionError: SECRET_KEY changed since the token was stored.
    """
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise connections.NotConnectedError()
        token = airtable_oauth.get_valid_token(session=db, user=user)
    return connections.check_airtable_token(token, api_url=get_settings().airtable_api_url)
