"""A local OAuth 2.0 / OpenID Connect provider for tests (SSO and "Connect with Airtable").

Start it in-process::

    from tests.fakes.oauth import OAuthProvider, ProviderUser

    with OAuthProvider(client_id="app", client_secret="s3cret") as provider:
        provider.user = ProviderUser(sub="u1", email="ann@example.com")
        # OIDC_ISSUER=provider.issuer; AIRTABLE_OAUTH_URL=provider.url

or as a process (from the repository root)::

    python -m tests.fakes.oauth --port 8788 --consent form --airtable-token patEmu...

See ``server.OAuthProvider`` for the knobs tests turn to make it misbehave.
"""

from tests.fakes.oauth.server import OAuthProvider, ProviderUser

__all__ = ["OAuthProvider", "ProviderUser"]
