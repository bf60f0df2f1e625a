"""Encryption of stored secrets (Airtable tokens) with a key derived from SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) gives authenticated
encryption; its key is derived from SECRET_KEY with HKDF-SHA256 under a fixed
label, so the same SECRET_KEY can sign other things without key reuse. Decryption
goes through MultiFernet: passing `previous_keys` lets an operator rotate
SECRET_KEY while old ciphertexts still open (and `rotate_secret` re-encrypts them).
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pyairtable_ui.settings import get_settings

logger = logging.getLogger(__name__)

# Changing this label makes every stored token unreadable: bump the version instead
# and keep the old label available for decryption.
HKDF_INFO = b"pyairtable-ui airtable-token v1"


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with the current SECRET_KEY.

    Attributes:
        message: What the user reads.
    """

    default_message = (
        "Your saved Airtable connection can no longer be read, because the server's "
        "SECRET_KEY changed since it was saved. Connect your Airtable account again."
    )

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


@functools.lru_cache(maxsize=8)
def derive_fernet_key(secret_key: str) -> bytes:
    """The Fernet key (urlsafe base64 of 32 bytes) for a SECRET_KEY.

    Args:
        secret_key: The SECRET_KEY value.

    Returns:
        A key `Fernet` accepts.
    """
    # No salt: the input is a long random secret, not a password, so HKDF's
    # extract step needs none (RFC 5869 §3.1); the info label separates uses.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8")))


def _current_secret(secret_key: str | None) -> str:
    if secret_key is not None:
        return secret_key
    return get_settings().secret_key.get_secret_value()


def _multi_fernet(secret_key: str | None, previous_keys: Sequence[str]) -> MultiFernet:
    keys = [_current_secret(secret_key), *previous_keys]
    return MultiFernet([Fernet(derive_fernet_key(key)) for key in keys])


def encrypt_secret(plaintext: str, *, secret_key: str | None = None) -> str:
    """Encrypt a secret for storage.

    Args:
        plaintext: The secret (e.g. an Airtable token).
        secret_key: Override SECRET_KEY (tests, key rotation tools).

    Returns:
        A Fernet token as text; a fresh IV makes it differ on every call.
    """
    return (
        Fernet(derive_fernet_key(_current_secret(secret_key)))
        .encrypt(plaintext.encode("utf-8"))
        .decode("ascii")
    )


def decrypt_secret(
    ciphertext: str,
    *,
    secret_key: str | None = None,
    previous_keys: Sequence[str] = (),
) -> str:
    """Decrypt a secret stored by `encrypt_secret`.

    Args:
        ciphertext: The stored text.
        secret_key: Override SECRET_KEY (tests, key rotation tools).
        previous_keys: Older SECRET_KEY values still accepted for decryption.

    Returns:
        The secret.

    Raises:
        SecretDecryptionError: The text was encrypted under another SECRET_KEY or
            was altered; the user must connect again.
    """
    try:
        plain = _multi_fernet(secret_key, previous_keys).decrypt(ciphertext.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        logger.error("stored secret cannot be decrypted: SECRET_KEY changed or ciphertext altered")
        raise SecretDecryptionError() from exc
    return plain.decode("utf-8")


def rotate_secret(
    ciphertext: str, *, previous_keys: Sequence[str], secret_key: str | None = None
) -> str:
    """Re-encrypt a stored secret under the current SECRET_KEY.

    Args:
        ciphertext: Text encrypted under the current or one of the previous keys.
        previous_keys: Older SECRET_KEY values.
        secret_key: Override SECRET_KEY.

    Returns:
        The same secret encrypted under the current key.

    Raises:
        SecretDecryptionError: No given key opens it.
    """
    try:
        rotated = _multi_fernet(secret_key, previous_keys).rotate(ciphertext.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise SecretDecryptionError() from exc
    return rotated.decode("ascii")
