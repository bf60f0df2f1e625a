"""Encryption with keys derived from SECRET_KEY, one key per purpose, and its rotation.

Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) gives authenticated
encryption. Each purpose (stored secrets, the OAuth flow cookie) gets its own key,
derived from SECRET_KEY with HKDF-SHA256 under that purpose's label, so one
SECRET_KEY serves them all without key reuse. `fernet_for(label)` is the only
place such a key is made: decryption also accepts the keys derived from
PREVIOUS_SECRET_KEYS, so an operator can change SECRET_KEY while old ciphertexts
still open, and `rotate_secret` (run by `python -m pyairtable_ui.manage
rotate-secret`) re-encrypts them under the new key.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

logger = logging.getLogger(__name__)

# The label of the key that encrypts what the database keeps: Airtable tokens, OAuth
# refresh tokens, pending verification and reset links. Changing a label makes what it
# encrypted unreadable: use a new versioned label instead and keep the old one readable.
STORED_SECRETS = "airtable-token v1"

# Every label is prefixed so no other program deriving from the same secret collides.
_INFO_PREFIX = "pyairtable-ui "


class SecretDecryptionError(UserFacingError):
    """A stored secret cannot be decrypted with the current SECRET_KEY."""

    default_message = (
        "Your saved Airtable connection can no longer be read, because the server's "
        "SECRET_KEY changed since it was saved. Connect your Airtable account again."
    )


@functools.lru_cache(maxsize=16)
def derive_fernet_key(secret_key: str, label: str = STORED_SECRETS) -> bytes:
    """The Fernet key (urlsafe base64 of 32 bytes) for a SECRET_KEY and a purpose.

    Args:
        secret_key: The SECRET_KEY value.
        label: The purpose, e.g. `STORED_SECRETS`; each label gives an unrelated key.

    Returns:
        A key `Fernet` accepts.
    """
    # No salt: the input is a long random secret, not a password, so HKDF's
    # extract step needs none (RFC 5869 §3.1); the info label separates uses.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    info = (_INFO_PREFIX + label).encode("utf-8")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8")))


def _secret_keys(secret_key: str | None, previous_keys: Sequence[str] | None) -> tuple[str, ...]:
    settings = get_settings()
    current = secret_key if secret_key is not None else settings.secret_key.get_secret_value()
    if previous_keys is None:
        previous_keys = [key.get_secret_value() for key in settings.previous_secret_keys]
    # The current key first: MultiFernet encrypts with the first and tries them in order.
    return tuple(dict.fromkeys([current, *previous_keys]))


@functools.lru_cache(maxsize=16)
def _multi_fernet(label: str, keys: tuple[str, ...]) -> MultiFernet:
    # cryptography's OpenSSL bindings (about 6 MB) load with the first key a worker
    # needs (a sign-in, an Airtable token), not when the app is imported.
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(derive_fernet_key(key, label)) for key in keys])


def fernet_for(
    label: str, *, secret_key: str | None = None, previous_keys: Sequence[str] | None = None
) -> MultiFernet:
    """The Fernet of one purpose: encrypts under SECRET_KEY, also opens previous keys' texts.

    Args:
        label: The purpose, e.g. `STORED_SECRETS` or "oauth flow cookie v1". Never reuse
            one label for two purposes.
        secret_key: Override SECRET_KEY (tests, the rotation command).
        previous_keys: Older SECRET_KEY values still accepted for decryption;
            PREVIOUS_SECRET_KEYS by default.

    Returns:
        A MultiFernet whose `encrypt` uses the current key and whose `decrypt` (with
        its optional `ttl`) and `rotate` accept the current and previous keys.
    """
    return _multi_fernet(label, _secret_keys(secret_key, previous_keys))


def encrypt_secret(plaintext: str, *, secret_key: str | None = None) -> str:
    """Encrypt a secret for storage.

    Args:
        plaintext: The secret (e.g. an Airtable token).
        secret_key: Override SECRET_KEY (tests, key rotation tools).

    Returns:
        A Fernet token as text; a fresh IV makes it differ on every call.
    """
    fernet = fernet_for(STORED_SECRETS, secret_key=secret_key, previous_keys=())
    return fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(
    ciphertext: str,
    *,
    secret_key: str | None = None,
    previous_keys: Sequence[str] | None = None,
) -> str:
    """Decrypt a secret stored by `encrypt_secret`.

    Args:
        ciphertext: The stored text.
        secret_key: Override SECRET_KEY (tests, key rotation tools).
        previous_keys: Older SECRET_KEY values still accepted for decryption;
            PREVIOUS_SECRET_KEYS by default.

    Returns:
        The secret.

    Raises:
        SecretDecryptionError: The text was encrypted under another SECRET_KEY or
            was altered; the user must connect again.
    """
    from cryptography.fernet import InvalidToken

    fernet = fernet_for(STORED_SECRETS, secret_key=secret_key, previous_keys=previous_keys)
    try:
        plain = fernet.decrypt(ciphertext.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        logger.error("stored secret cannot be decrypted: SECRET_KEY changed or ciphertext altered")
        raise SecretDecryptionError() from exc
    return plain.decode("utf-8")


def rotate_secret(
    ciphertext: str,
    *,
    previous_keys: Sequence[str] | None = None,
    secret_key: str | None = None,
) -> str:
    """Re-encrypt a stored secret under the current SECRET_KEY.

    Args:
        ciphertext: Text encrypted under the current or one of the previous keys.
        previous_keys: Older SECRET_KEY values; PREVIOUS_SECRET_KEYS by default.
        secret_key: Override SECRET_KEY.

    Returns:
        The same secret encrypted under the current key.

    Raises:
        SecretDecryptionError: No given key opens it.
    """
    from cryptography.fernet import InvalidToken

    fernet = fernet_for(STORED_SECRETS, secret_key=secret_key, previous_keys=previous_keys)
    try:
        rotated = fernet.rotate(ciphertext.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise SecretDecryptionError() from exc
    return rotated.decode("ascii")
