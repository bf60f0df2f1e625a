"""Password hashing (argon2id), the password rules, and email normalisation.

The hash never leaves the backend. Production uses the RFC 9106 "low memory"
parameters (64 MiB, 3 passes, 4 lanes); tests swap in a cheap hasher through
`PASSWORD_HASHER` or the `hasher=` parameter instead of weakening these defaults.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from pyairtable_ui.auth.errors import InvalidEmailError, WeakPasswordError

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase or manager-generated password; bounded so a
# megabyte "password" cannot be used to make the server hash for seconds.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
# zxcvbn's score from 0 (guessable in a few tries) to 4; 3 resists an offline attack.
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input (its matching grows fast); the start is what gets estimated.
ZXCVBN_MAX_LENGTH = 72

# Spelled out rather than taken from the library defaults, so an argon2-cffi
# upgrade cannot silently change what we store (verify still accepts old hashes
# and `needs_rehash` upgrades them at the next sign-in).
PASSWORD_HASHER = PasswordHasher(
    time_cost=3,
    memory_cost=64 * 1024,  # KiB
    parallelism=4,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# Among the most used passwords in public breach lists that are 10+ characters
# long (shorter ones already fail the length rule). Compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0987654321",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "zaq12wsxcde3",
        "qwertyuiop",
        "qwertyuiop123",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "asdfghjkl1",
        "asdfghjkl123",
        "zxcvbnm123",
        "abcdefghij",
        "abcd123456",
        "abc1234567",
        "a123456789",
        "password12",
        "password123",
        "password1234",
        "password12345",
        "password!!",
        "password123!",
        "passw0rd123",
        "p@ssw0rd123",
        "p@ssword123",
        "passwordpassword",
        "iloveyou123",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "welcome1234",
        "changeme123",
        "administrator",
        "admin12345",
        "admin123456",
        "football123",
        "baseball123",
        "basketball",
        "sunshine123",
        "princess123",
        "superman123",
        "batman1234",
        "monkey1234",
        "dragon1234",
        "starwars123",
        "trustno1234",
        "michael123",
        "jennifer123",
        "computer123",
        "whatever123",
        "lovelove123",
        "0123456789",
        "1111111111",
        "123123123123",
        "airtable123",
        "airtable1234",
        "pyairtable",
    }
)

# Deliberately loose: one "@", something before it, a dotted domain after it, no
# spaces. Whether the mailbox exists is proven by the verification email, not here.
_LOCAL_PART = re.compile(r"^[^\s@\"(),:;<>\[\]\\]+$")
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:[\w-]{0,61}[^\W_])?$")


def normalize_email(email: str) -> str:
    """The canonical form of an email address, used for storage and lookups.

    Surrounding spaces are removed and the WHOLE address is lowercased, local
    part included. RFC 5321 allows a case-sensitive local part, but no common
    provider uses one, and lowercasing everything means `Ana@x.io` and
    `ana@x.io` cannot become two accounts, and sign-in works however it is typed.

    Args:
        email: The address as the person typed it.

    Returns:
        The address stripped and lowercased.

    Raises:
        InvalidEmailError: When the text is not shaped like an email address.
    """
    candidate = email.strip().lower()
    if not candidate:
        raise InvalidEmailError("Enter your email address.")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError("This email address is too long.")
    local, at, domain = candidate.rpartition("@")
    if not at or not local or not domain:
        raise InvalidEmailError()
    labels = domain.split(".")
    shaped = (
        _LOCAL_PART.fullmatch(local) is not None
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and len(local) <= 64
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
    )
    if not shaped:
        raise InvalidEmailError()
    return candidate


def password_problems(
    password: str, *, email: str | None = None, name: str | None = None
) -> list[str]:
    """What is wrong with a new password, as sentences a person understands.

    The plain rules come first; when they pass, zxcvbn estimates how guessable
    the password is (common passwords, names, keyboard walks, `Password1!`
    patterns, the person's own email and name) and its feedback is returned.

    Args:
        password: The proposed password, exactly as typed (not stripped).
        email: The account's email, if known, so it cannot be reused as the password.
        name: The person's name, if known, so it counts as easy to guess.

    Returns:
        One message per broken rule; an empty list when the password is acceptable.
    """
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if password and password.isdigit():
        problems.append("Use more than digits: add letters or other characters.")
    elif password and len(set(password)) == 1:
        problems.append("Use more than one repeated character.")
    lowered = password.strip().lower()
    if email:
        email_lowered = email.strip().lower()
        local_part = email_lowered.partition("@")[0]
        if lowered in {email_lowered, local_part}:
            problems.append("Do not use your email address as your password.")
    if lowered in COMMON_PASSWORDS:
        problems.append("This password is too common. Choose something less easy to guess.")
    if not problems:
        problems.extend(_guessability_problems(password, email=email, name=name))
    return problems


def _guessability_problems(password: str, *, email: str | None, name: str | None) -> list[str]:
    user_inputs = [
        part
        for part in (email, (email or "").partition("@")[0], name, *(name or "").split())
        if part
    ]
    # Imported here: its word lists cost a process about 13 MB, and only the few
    # requests that set a password need them.
    from zxcvbn import zxcvbn

    estimate = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=user_inputs)
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return []
    feedback = estimate["feedback"]
    problems = ["This password is too easy to guess."]
    if feedback.get("warning"):
        problems.append(_sentence(feedback["warning"]))
    problems.extend(_sentence(tip) for tip in feedback.get("suggestions", []))
    if len(problems) == 1:
        problems.append("Add another word or two; uncommon words are better.")
    return problems


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def check_password_rules(
    password: str, *, email: str | None = None, name: str | None = None
) -> None:
    """Raise when a new password breaks a rule.

    Args:
        password: The proposed password.
        email: The account's email, if known.
        name: The person's name, if known.

    Raises:
        WeakPasswordError: With every broken rule listed.
    """
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise WeakPasswordError(problems)


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """An argon2id hash of `password` with a fresh random salt.

    Args:
        password: The plain password.
        hasher: Override the production hasher (tests use a cheap one).

    Returns:
        The encoded hash (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    """
    return (hasher or PASSWORD_HASHER).hash(password)


def verify_password(
    password_hash: str | None, password: str, *, hasher: PasswordHasher | None = None
) -> bool:
    """Whether `password` matches `password_hash`, compared in constant time.

    When there is no hash (unknown account, single-sign-on-only account) a dummy
    hash is verified instead, so the answer takes as long as a real check and
    timing does not reveal whether the account exists.

    Args:
        password_hash: The stored hash, or None when there is nothing to compare with.
        password: The password typed.
        hasher: Override the production hasher (tests use a cheap one).

    Returns:
        True only when a real hash matches.
    """
    active = hasher or PASSWORD_HASHER
    if password_hash is None:
        _verify_quietly(active, _dummy_hash(active), password)
        return False
    try:
        return active.verify(password_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        # A corrupt stored hash is an operator problem, not a wrong password: say so
        # in the log (without the hash), and refuse the sign-in.
        logger.error("stored password hash is not a valid argon2 hash; sign-in refused")
        return False


def needs_rehash(password_hash: str, *, hasher: PasswordHasher | None = None) -> bool:
    """Whether a stored hash was made with other parameters than today's.

    Args:
        password_hash: The stored hash that just verified.
        hasher: Override the production hasher.

    Returns:
        True when the hash should be replaced by `hash_password(password)`.
    """
    try:
        return (hasher or PASSWORD_HASHER).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def _verify_quietly(hasher: PasswordHasher, password_hash: str, password: str) -> None:
    try:
        hasher.verify(password_hash, password)
    except VerificationError:
        # Expected: the dummy never matches; only the time spent matters.
        return


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Same parameters as real hashes (so the same cost), of a password nobody knows.
    return hasher.hash(secrets.token_urlsafe(32))
