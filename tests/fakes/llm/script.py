"""What a test scripts the fake LLM to answer: replies, tool calls and errors.

These are plain data classes with no HTTP in them, so the same script can be
built in Python (``Reply(...)``) or sent as JSON to ``POST /_script/queue``
(``Reply.from_dict``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ErrorLike", "Reply", "ReplyLike", "ScriptedError", "ToolCall", "coerce_reply", "new_id"]

# Default body per status, copied from what api.openai.com answers, because
# litellm picks its exception class from the status *and* from words in the
# body (see ScriptedError), so realistic defaults give realistic mapping.
_ERROR_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (scripted)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-****. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    408: ("timeout", None, "Request timed out."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


def new_id(prefix: str) -> str:
    """Return a random OpenAI-looking identifier.

    Args:
        prefix: Leading part, e.g. ``"call_"`` or ``"chatcmpl-"``.

    Returns:
        The prefix followed by 24 random URL-safe characters.
    """
    return prefix + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


@dataclass
class ToolCall:
    """One function call the scripted assistant makes.

    Attributes:
        name: Function name, as the app declared it in ``tools``.
        arguments: A dict (sent JSON-encoded) or a raw string, sent exactly as
            given so tests can feed the app invalid JSON.
        id: Tool call id; when not given, a fresh ``call_<random>`` is made
            each time the call is served (so repeats get distinct ids).
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as the string that goes on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Build a tool call from its JSON form.

        Args:
            data: ``{"name": ..., "arguments": {...} | "...", "id": optional}``.

        Returns:
            The tool call.

        Raises:
            ValueError: On a missing name or unknown keys.
        """
        _check_keys(data, {"name", "arguments", "id"}, "tool call")
        if not isinstance(data.get("name"), str):
            raise ValueError("tool call needs a string 'name'")
        arguments = data.get("arguments", {})
        if not isinstance(arguments, dict | str):
            raise ValueError("tool call 'arguments' must be an object or a string")
        return cls(name=data["name"], arguments=arguments, id=data.get("id"))


@dataclass
class ScriptedError:
    """An OpenAI-style error answer.

    litellm maps an ``openai/`` error first by words in the body, then by
    status: a body with type ``invalid_request_error`` becomes
    ``BadRequestError`` whatever the status, unless its message says
    "Incorrect API key provided" (401) or its code is ``model_not_found``
    (404). The defaults keep to what OpenAI really sends, so each status maps
    to its usual class; override ``type``/``code`` with care.

    Attributes:
        status: HTTP status, e.g. 401, 404, 429, 500, 503.
        message: ``error.message``; a realistic default per status.
        type: ``error.type``; a realistic default per status.
        code: ``error.code``; a realistic default per status (may be None).
    """

    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        default_type, default_code, default_message = _ERROR_DEFAULTS.get(
            self.status,
            (
                "server_error" if self.status >= 500 else "invalid_request_error",
                None,
                f"Error {self.status} (scripted).",
            ),
        )
        if self.message is None:
            self.message = default_message
        if self.type is None:
            self.type = default_type
        if self.code is None:
            self.code = default_code

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI sends with this error."""
        return {
            "error": {"message": self.message, "type": self.type, "param": None, "code": self.code}
        }

    @classmethod
    def coerce(cls, value: ErrorLike) -> ScriptedError:
        """Accept the short forms tests like to write.

        Args:
            value: A ``ScriptedError``; a status int; a tuple
                ``(status, message)`` or ``(status, message, code)``; or a dict
                with ``status`` and optional ``message``/``type``/``code``.

        Returns:
            The error.

        Raises:
            ValueError: When the value is not one of those forms.
        """
        if isinstance(value, ScriptedError):
            return value
        if isinstance(value, int):
            return cls(status=value)
        if isinstance(value, Mapping):
            _check_keys(value, {"status", "message", "type", "code"}, "error")
            if not isinstance(value.get("status"), int):
                raise ValueError("error needs an integer 'status'")
            return cls(
                status=value["status"],
                message=value.get("message"),
                type=value.get("type"),
                code=value.get("code"),
            )
        if isinstance(value, Sequence) and not isinstance(value, str) and 1 <= len(value) <= 3:
            status, *rest = value
            if not isinstance(status, int):
                raise ValueError("error tuple must start with an integer status")
            message = rest[0] if rest else None
            code = rest[1] if len(rest) > 1 else None
            return cls(status=status, message=message, code=code)
        raise ValueError(f"cannot read an error from {value!r}")


ErrorLike = ScriptedError | int | Sequence[Any] | Mapping[str, Any]
"""What ``Reply(error=...)`` accepts: see ``ScriptedError.coerce``."""


@dataclass
class Reply:
    """One scripted answer to one ``/v1/chat/completions`` request.

    Attributes:
        content: Assistant text. Streamed word by word, so streaming shows.
        tool_calls: Function calls to make (several = parallel tool calls).
        usage: Override for ``usage``; else estimated at ~4 characters/token.
        delay_before: Seconds to wait before answering at all.
        chunk_delay: Seconds between streamed chunks (to press Stop mid-way).
        error: Answer with this OpenAI-style error instead (see
            ``ScriptedError.coerce`` for the accepted forms).
        hang: Never answer: hold the connection until the client gives up or
            the server stops (to test client timeouts).
        finish_reason: Override; default ``"tool_calls"`` when there are tool
            calls, else ``"stop"``.
        repeat: Serve this reply this many times (e.g. to answer the SDK's
            automatic retries of a 429 or 5xx with the same error).
        headers: Extra response headers, e.g. ``{"x-should-retry": "false"}``
            or ``{"retry-after-ms": "10"}`` to steer the OpenAI SDK's retries.
        disconnect_after: When streaming, drop the connection after this many
            SSE events, without ``[DONE]`` (a network failure mid-answer).
    """

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, int] | None = None
    delay_before: float = 0.0
    chunk_delay: float = 0.0
    error: ErrorLike | None = None
    hang: bool = False
    finish_reason: str | None = None
    repeat: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    disconnect_after: int | None = None

    def __post_init__(self) -> None:
        # Accept a lone ToolCall and tuples, since those read naturally in tests.
        if isinstance(self.tool_calls, ToolCall):
            self.tool_calls = [self.tool_calls]
        self.tool_calls = [
            tc if isinstance(tc, ToolCall) else ToolCall.from_dict(tc) for tc in self.tool_calls
        ]
        for tc in self.tool_calls:
            try:
                tc.arguments_json  # noqa: B018 - fail when queued, not mid-request
            except (TypeError, ValueError) as exc:
                raise ValueError(f"tool call {tc.name!r}: arguments are not JSON: {exc}") from exc
        if self.error is not None:
            self.error = ScriptedError.coerce(self.error)
        if self.repeat < 1:
            raise ValueError("repeat must be at least 1")
        if self.delay_before < 0 or self.chunk_delay < 0:
            raise ValueError("delays must not be negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        """Build a reply from its JSON form (as sent to ``/_script/queue``).

        Args:
            data: Keys named like this class's attributes.

        Returns:
            The reply.

        Raises:
            ValueError: On unknown keys or values of the wrong shape.
        """
        _check_keys(
            data,
            {
                "content",
                "tool_calls",
                "usage",
                "delay_before",
                "chunk_delay",
                "error",
                "hang",
                "finish_reason",
                "repeat",
                "headers",
                "disconnect_after",
            },
            "reply",
        )
        tool_calls = data.get("tool_calls") or []
        if not isinstance(tool_calls, list):
            raise ValueError("'tool_calls' must be a list")
        return cls(
            content=data.get("content"),
            tool_calls=[ToolCall.from_dict(tc) for tc in tool_calls],
            usage=data.get("usage"),
            delay_before=float(data.get("delay_before", 0.0)),
            chunk_delay=float(data.get("chunk_delay", 0.0)),
            error=data.get("error"),
            hang=bool(data.get("hang", False)),
            finish_reason=data.get("finish_reason"),
            repeat=int(data.get("repeat", 1)),
            headers=dict(data.get("headers") or {}),
            disconnect_after=data.get("disconnect_after"),
        )


ReplyLike = Reply | ToolCall | str | Mapping[str, Any]
"""What ``ScriptedLLM.queue`` accepts: a Reply, a lone ToolCall, plain text or a dict."""


def coerce_reply(value: ReplyLike) -> Reply:
    """Turn any ``ReplyLike`` into a ``Reply``.

    Args:
        value: A Reply; a ToolCall (a reply with just that call); a string
            (a reply with that text); or a dict in ``Reply.from_dict`` form.

    Returns:
        The reply.

    Raises:
        ValueError: When the value cannot be read as a reply.
    """
    if isinstance(value, Reply):
        return value
    if isinstance(value, ToolCall):
        return Reply(tool_calls=[value])
    if isinstance(value, str):
        return Reply(content=value)
    if isinstance(value, Mapping):
        return Reply.from_dict(value)
    raise ValueError(f"cannot read a reply from {value!r}")


def _check_keys(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    """Refuse unknown keys, so a typo in a script fails loudly instead of being ignored."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a JSON object")
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown {what} key(s): {', '.join(sorted(unknown))}")
