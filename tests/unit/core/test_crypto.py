"""Encryption under keys derived from SECRET_KEY: stored secrets, other purposes, rotation."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pyairtable_ui.core.crypto import (
    STORED_SECRETS,
    SecretDecryptionError,
    decrypt_secret,
    derive_fernet_key,
    encrypt_secret,
    fernet_for,
    rotate_secret,
)
from pyairtable_ui.core.settings import get_settings
from tests.unit.core.conftest import TEST_SECRET_KEY

TOKEN = "patAbCdEfGhIjKlMn." + "0123456789abcdef" * 4
OLD_KEY = "the-old-secret-key-" + "y" * 30


def test_round_trip_with_the_configured_secret_key():
    ciphertext = encrypt_secret(TOKEN)
    assert ciphertext != TOKEN
    assert TOKEN not in ciphertext
    assert TOKEN[-16:] not in ciphertext
    assert decrypt_secret(ciphertext) == TOKEN
    assert decrypt_secret(ciphertext, secret_key=TEST_SECRET_KEY) == TOKEN


def test_same_secret_encrypts_differently_each_time():
    assert encrypt_secret(TOKEN) != encrypt_secret(TOKEN)


def test_another_secret_key_cannot_decrypt_and_says_what_to_do():
    ciphertext = encrypt_secret(TOKEN, secret_key="the-old-secret-key-" + "y" * 30)
    with pytest.raises(SecretDecryptionError) as caught:
        decrypt_secret(ciphertext)
    assert "SECRET_KEY changed" in caught.value.message
    assert "Connect your Airtable account again" in caught.value.message
    assert TOKEN not in str(caught.value)


def test_altered_or_garbage_ciphertext_fails_clearly():
    ciphertext = encrypt_secret(TOKEN)
    tampered = ciphertext[:-6] + ("A" if ciphertext[-6] != "A" else "B") + ciphertext[-5:]
    for broken in (tampered, "not-a-fernet-token", "ünïcode"):
        with pytest.raises(SecretDecryptionError):
            decrypt_secret(broken)


def test_previous_keys_still_open_old_ciphertexts_and_rotate_them():
    old_key = "the-old-secret-key-" + "y" * 30
    old_ciphertext = encrypt_secret(TOKEN, secret_key=old_key)
    assert decrypt_secret(old_ciphertext, previous_keys=[old_key]) == TOKEN
    rotated = rotate_secret(old_ciphertext, previous_keys=[old_key])
    assert decrypt_secret(rotated) == TOKEN  # no previous key needed any more


def test_key_derivation_is_stable_and_depends_on_the_secret():
    assert derive_fernet_key("a" * 40) == derive_fernet_key("a" * 40)
    assert derive_fernet_key("a" * 40) != derive_fernet_key("b" * 40)
    # Pinned: changing the HKDF label or hash would strand every stored token.
    assert derive_fernet_key("a" * 40) == b"BVubLxfK-cxF8O29zLCT2MgD4XgAkqyBpBAFZo-mBLM="


def test_previous_secret_keys_setting_opens_old_ciphertexts_until_they_are_rotated(monkeypatch):
    old_ciphertext = encrypt_secret(TOKEN, secret_key=OLD_KEY)
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(old_ciphertext)
    monkeypatch.setenv("PREVIOUS_SECRET_KEYS", f"{OLD_KEY}, another-retired-key-{'z' * 30}")
    get_settings.cache_clear()
    assert decrypt_secret(old_ciphertext) == TOKEN
    rotated = rotate_secret(old_ciphertext)
    monkeypatch.delenv("PREVIOUS_SECRET_KEYS")
    get_settings.cache_clear()
    assert decrypt_secret(rotated) == TOKEN
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(rotated, secret_key=OLD_KEY, previous_keys=())


def test_each_purpose_has_its_own_key():
    cookie = fernet_for("oauth flow cookie v1")
    sealed = cookie.encrypt(b"pkce verifier")
    assert cookie.decrypt(sealed, ttl=60) == b"pkce verifier"
    with pytest.raises(InvalidToken):
        fernet_for(STORED_SECRETS).decrypt(sealed)
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(sealed.decode("ascii"))


def test_labels_keep_the_keys_of_before_fernet_for():
    # The OAuth flow cookie's key was derived in its route module under this info string;
    # fernet_for must give the same key, or every cookie in flight breaks on upgrade.
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"pyairtable-ui oauth flow cookie v1"
    )
    before = base64.urlsafe_b64encode(hkdf.derive(b"a" * 40))
    assert derive_fernet_key("a" * 40, "oauth flow cookie v1") == before
    assert derive_fernet_key("a" * 40, STORED_SECRETS) == derive_fernet_key("a" * 40)
