"""The sample server: one local Airtable Web API holding every user's private sample base.

It is the Airtable emulator (`pyairtable_ui.emulator`) with one `EmulatorState` per sample
instead of one for the whole server. A request's bearer token picks the sample, so a token
sees its own copy and nothing else (an unknown token meets an empty state: 401, as on
Airtable). Each sample is a JSON file in the data folder (named by a digest of its token, read on
its first request after a start), rewritten after every change that succeeded, so the
data survives restarts; a reset rebuilds it from the demo seed.

Each sample gets fresh base ids (Airtable's ids are unique across accounts, and the app's
caches and pacer key on them) and the seed's base names with "(Sample)" after them: the
name is what the base picker, the chat toolbar and the history show, so the mark is
everywhere the name is, including history written before the user connected real Airtable.

Control endpoints (loopback only; every one but health needs the key the app generated
when it started this process, sent in the JSON body as ``"key"``)::

    GET  /_emulator/health          {"ok": true}
    POST /_emulator/samples         a new sample -> {"token", "bases"}
    POST /_emulator/samples/reset   {"token"} -> back to the demo seed

The emulator's test controls (failure injection, stats, raw seed export) are not offered.
Run by `pyairtable_ui.sample.manager` as ``python -m pyairtable_ui.sample``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import secrets
import string
import threading
from pathlib import Path
from typing import Any

from pyairtable_ui.emulator import AirtableEmulator, EmulatorState, load_seed
from pyairtable_ui.emulator.seeds import DEMO_SEED_PATH
from pyairtable_ui.emulator.server import Route
from pyairtable_ui.sample.tour import SAMPLE_BASE_ID_PREFIX, SAMPLE_MARK

# The seed's owner: the sample's collaborators, comments and "created by" are hers.
SAMPLE_OWNER_ID = "usrDemoOwner00001"
_ID_CHARACTERS = string.ascii_letters + string.digits
_EMPTY: dict[str, Any] = {"tokens": [], "users": [], "bases": []}


def new_token() -> str:
    """A token shaped like an Airtable personal access token ("pat" + 14 + "." + 64 hex)."""
    head = "".join(secrets.choice(_ID_CHARACTERS) for _ in range(14))
    return f"pat{head}.{secrets.token_hex(32)}"


def _new_base_id() -> str:
    random_part = "".join(
        secrets.choice(_ID_CHARACTERS) for _ in range(17 - len(SAMPLE_BASE_ID_PREFIX))
    )
    return SAMPLE_BASE_ID_PREFIX + random_part


def sample_seed(demo: dict[str, Any], *, token: str, base_ids: dict[str, str]) -> dict[str, Any]:
    """The demo seed as one user's sample: its own base ids and names, one token for both.

    Args:
        demo: The normalised demo seed.
        token: The sample's only token (every scope, both bases).
        base_ids: The demo's base id -> this sample's base id.

    Returns:
        A new seed dict.
    """
    seed = copy.deepcopy(demo)
    for base in seed["bases"]:
        base["id"] = base_ids[base["id"]]
        base["name"] = base["name"] + SAMPLE_MARK
    owner = next(user for user in seed["users"] if user["id"] == SAMPLE_OWNER_ID)
    seed["tokens"] = [
        {
            "token": token,
            "user_id": owner["id"],
            "email": owner["email"],
            "name": owner["name"],
            "bases": [base["id"] for base in seed["bases"]],
        }
    ]
    return seed


class _Sample:
    """One user's sample: its state, the base ids it was given, and its file."""

    def __init__(self, path: Path, token: str, base_ids: dict[str, str], state: EmulatorState):
        self.path = path
        self.token = token
        self.base_ids = base_ids
        self.state = state
        self.save_lock = threading.Lock()

    def save(self) -> None:
        # Whole-file replace: a crash mid-write leaves the previous version, never half a file.
        with self.save_lock:
            data = {"token": self.token, "base_ids": self.base_ids, "seed": self.state.to_seed()}
            temporary = self.path.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
            os.replace(temporary, self.path)


class SampleHost(AirtableEmulator):
    """The emulator's HTTP API over many samples, chosen per request by the bearer token."""

    def __init__(self, folder: Path, *, key: str, port: int = 0) -> None:
        """Serve the samples saved in ``folder`` (created if missing), each read when first asked.

        Args:
            folder: Where the samples' files live (the app's data folder).
            key: The secret the control endpoints require.
            port: Port on 127.0.0.1 to bind; 0 picks a free one.
        """
        self._local = threading.local()
        self._empty = EmulatorState(_EMPTY)
        super().__init__(_EMPTY, host="127.0.0.1", port=port)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._key = key
        self._demo = load_seed(DEMO_SEED_PATH)
        self._samples: dict[str, _Sample] = {}
        self._samples_lock = threading.Lock()

    def _path(self, token: str) -> Path:
        # Named by a digest of the token: found without reading every file, and the
        # names reveal nothing.
        return self.folder / f"sample-{hashlib.sha256(token.encode()).hexdigest()[:32]}.json"

    def _sample(self, token: str) -> _Sample | None:
        """The token's sample, read from its file on first use (a start reads no sample)."""
        sample = self._samples.get(token)
        if sample is not None or not token:
            return sample
        with self._samples_lock:
            sample = self._samples.get(token)
            path = self._path(token)
            if sample is None and path.exists():
                data = json.loads(path.read_text(encoding="utf-8"))
                if hmac.compare_digest(str(data.get("token", "")), token):
                    state = EmulatorState(data["seed"])
                    sample = _Sample(path, token, data["base_ids"], state)
                    self._samples[token] = sample
            return sample

    # The emulator's handlers read `self.state`: here it is the asking token's sample.
    @property  # type: ignore[override]
    def state(self) -> EmulatorState:
        return getattr(self._local, "state", None) or self._empty

    @state.setter
    def state(self, value: EmulatorState) -> None:
        # The emulator's constructor sets its one state; requests use their sample's.
        self._empty = value

    def dispatch(
        self,
        method: str,
        route: Route | None,
        params: dict[str, str],
        query_string: str,
        target: str,
        body_bytes: bytes,
        headers: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        """Serve one API request against the sample its token belongs to; save what changed."""
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        sample = self._sample(token.strip()) if scheme.lower() == "bearer" else None
        self._local.state = sample.state if sample else None
        try:
            status, payload, extra = super().dispatch(
                method, route, params, query_string, target, body_bytes, headers
            )
        finally:
            self._local.state = None
        if sample is not None and method != "GET" and status == 200:
            sample.save()
        return status, payload, extra

    def create_sample(self) -> _Sample:
        """A new sample from the demo seed, saved, with a fresh token and fresh base ids."""
        token = new_token()
        base_ids = {base["id"]: _new_base_id() for base in self._demo["bases"]}
        state = EmulatorState(sample_seed(self._demo, token=token, base_ids=base_ids))
        sample = _Sample(self._path(token), token, base_ids, state)
        sample.save()
        with self._samples_lock:
            self._samples[token] = sample
        return sample

    def reset_sample(self, token: str) -> bool:
        """Back to the demo seed (same token and base ids); False for an unknown token."""
        sample = self._sample(token)
        if sample is None:
            return False
        sample.state.load(sample_seed(self._demo, token=token, base_ids=sample.base_ids))
        sample.save()
        return True

    def control(self, method: str, path: str, body_bytes: bytes) -> tuple[int, Any]:
        """Serve the sample's control endpoints (see the module docstring)."""
        action = path.removeprefix("/_emulator").strip("/")
        if (method, action) == ("GET", "health"):
            return 200, {"ok": True}
        try:
            body = json.loads(body_bytes) if body_bytes.strip() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict) or not hmac.compare_digest(
            str(body.get("key", "")), self._key
        ):
            return 403, {"error": {"type": "FORBIDDEN", "message": "control key required"}}
        if (method, action) == ("POST", "samples"):
            sample = self.create_sample()
            return 200, {"token": sample.token, "bases": sorted(sample.base_ids.values())}
        if (method, action) == ("POST", "samples/reset"):
            if self.reset_sample(str(body.get("token", ""))):
                return 200, {"ok": True}
            return 404, {"error": {"type": "NOT_FOUND", "message": "no such sample"}}
        return 404, {"error": {"type": "NOT_FOUND", "message": "no such control endpoint"}}
