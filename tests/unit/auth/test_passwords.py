"""Password hashing, password rules and email normalisation."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from pyairtable_ui.auth import passwords
from pyairtable_ui.auth.errors import InvalidEmailError, WeakPasswordError
from pyairtable_ui.auth.passwords import (
    check_password_rules,
    hash_password,
    needs_rehash,
    normalize_email,
    password_problems,
    verify_password,
)

# Taken at import, before the autouse fixture swaps in the cheap test hasher.
PRODUCTION_HASHER = passwords.PASSWORD_HASHER


def test_production_hash_is_argon2id_with_rfc9106_parameters():
    password_hash = PRODUCTION_HASHER.hash("correct horse battery")
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in password_hash


def test_hashes_are_salted_and_verify(fast_hasher: PasswordHasher):
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # fresh salt each time
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not verify_password(first, "")


def test_missing_or_corrupt_hash_never_verifies():
    assert not verify_password(None, "anything at all")
    assert not verify_password("not-an-argon2-hash", "anything at all")


def test_hash_made_with_other_parameters_needs_rehash(fast_hasher: PasswordHasher):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("x" * 12)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert not needs_rehash(weak, hasher=fast_hasher)
    assert needs_rehash(weak, hasher=stronger)
    # Verification still accepts the old parameters; only the stored hash changes.
    assert verify_password(weak, "x" * 12, hasher=stronger)


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("short", "Use at least 10 characters."),
        ("1234567899", "Use more than digits: add letters or other characters."),
        ("aaaaaaaaaaaa", "Use more than one repeated character."),
        ("Password123", "This password is too common. Choose something less easy to guess."),
        ("ana.lopez@example.com", "Do not use your email address as your password."),
        # Built from the email: zxcvbn counts the person's own details as easy to guess.
        ("Ana.Lopez.x", "This password is too easy to guess."),
        ("Password1!", "This password is too easy to guess."),
        ("correct horse battery staple", None),
    ],
)
def test_password_rules_in_plain_words(password: str, expected: str | None):
    problems = password_problems(password, email="ana.lopez@example.com")
    if expected is None:
        assert problems == []
    else:
        assert expected in problems


def test_every_broken_rule_is_listed():
    with pytest.raises(WeakPasswordError) as caught:
        check_password_rules("12345")
    assert caught.value.problems == [
        "Use at least 10 characters.",
        "Use more than digits: add letters or other characters.",
    ]
    assert "at least 10 characters" in caught.value.message


def test_password_equal_to_email_local_part_is_refused():
    assert "Do not use your email address as your password." in password_problems(
        "ana.lopez.work", email="ana.lopez.work@example.com"
    )


def test_good_passphrase_passes():
    check_password_rules("violet tractor morning", email="ana@example.com")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Ana.Lopez@Example.COM ", "ana.lopez@example.com"),
        ("ANA+airtable@example.co.uk", "ana+airtable@example.co.uk"),
        ("o'neil@mail.example.org", "o'neil@mail.example.org"),
    ],
)
def test_email_is_stripped_and_lowercased(typed: str, stored: str):
    assert normalize_email(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "ana",
        "ana@",
        "@example.com",
        "ana@example",
        "ana lopez@example.com",
        "ana@exa mple.com",
        "ana@@example.com",
        "ana..lopez@example.com",
        "ana@-example.com",
        "a" * 250 + "@example.com",
    ],
)
def test_malformed_email_gets_a_clear_message(typed: str):
    with pytest.raises(InvalidEmailError) as caught:
        normalize_email(typed)
    assert caught.value.message in {
        "Enter your email address.",
        "Enter an email address like name@example.com.",
        "This email address is too long.",
    }


def test_a_guessable_password_is_refused_with_zxcvbn_feedback():
    problems = password_problems("Password1!", email="ana@example.com")
    assert problems[0] == "This password is too easy to guess."
    assert "This is similar to a commonly used password." in problems
    assert "Add another word or two. Uncommon words are better." in problems


def test_the_persons_name_counts_as_easy_to_guess():
    assert password_problems("Wilhelmina Oyelaran-Kowalczyk", email="w@example.com") == []
    problems = password_problems(
        "Wilhelmina Oyelaran-Kowalczyk",
        email="w@example.com",
        name="Wilhelmina Oyelaran-Kowalczyk",
    )
    assert problems[0] == "This password is too easy to guess."


def test_a_very_long_password_is_estimated_without_error():
    assert password_problems("quiet lantern " * 60) == []
