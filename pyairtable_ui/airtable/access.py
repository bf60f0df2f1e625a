"""A signed-in user's Airtable access: their token (refreshed if OAuth), as a client or checked."""

from __future__ import annotations

from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.db import session_scope


def _user_token(user_id: int) -> tuple[str, str]:
    """The user's token and where to send it (Airtable, or the sample server)."""
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise connections.NotConnectedError()
        token = airtable_oauth.get_valid_token(session=db, user=user)
        connection = connections.get_connection(session=db, user=user)
        assert connection is not None, "get_valid_token found it"
    return token, connections.api_url_for(connection)


def client_for_user(user_id: int) -> AirtableClient:
    """The one way backend code gets an Airtable client for a user (paced and counted).

    Blocking (it may refresh an OAuth token): call it through a thread from handlers.

    Args:
        user_id: The signed-in user.

    Returns:
        A client on the user's current token.

    Raises:
        connections.AirtableTokenError: Not connected, or the OAuth refresh failed.
        crypto.SecretDecryptionError: SECRET_KEY changed since the token was stored.
    """
    token, api_url = _user_token(user_id)
    return AirtableClient(token, api_url=api_url, user_id=user_id)


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
    token, api_url = _user_token(user_id)
    return connections.check_airtable_token(token, api_url=api_url)
