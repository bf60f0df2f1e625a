"""Airtable formula language: tokenizer, parser, compiler and evaluator.

Used for ``filterByFormula``, view filters, formula fields and rollups. Formulas are parsed into a
small tuple AST, validated (unknown fields/functions, argument counts) and compiled into nested
closures, so evaluating a filter over a thousand records costs a few milliseconds.

Value model while evaluating (mirrors Airtable's loose typing):

* blank is ``None``; text is ``str``; numbers are ``int``/``float``; ``TRUE()`` is ``True``
  (and behaves as ``1`` in arithmetic); dates are timezone-aware ``datetime`` objects;
  linked records, lookups and multiple selects are ``list`` values that turn into
  ``"a, b"`` text when compared or concatenated.
* errors (``#ERROR!``) are raised as :class:`FormulaRuntimeError`; a filter treats them as false,
  a formula field outputs ``{"error": "#ERROR!"}`` and ``ISERROR()`` catches them.

Every function and operator :mod:`pyairtable.formulas` can emit is implemented.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from . import dates


class FormulaError(Exception):
    """A formula that cannot be parsed or refers to unknown fields/functions."""


class FormulaRuntimeError(Exception):
    """An evaluation error; Airtable shows it as ``#ERROR!``."""


class FormulaContext(Protocol):
    """What a compiled formula needs from the record it is evaluated against."""

    values: list[Any]

    @property
    def record_id(self) -> str:
        """Id of the record (``RECORD_ID()``)."""

    @property
    def created_time(self) -> datetime:
        """When the record was created (``CREATED_TIME()``)."""

    @property
    def now(self) -> datetime:
        """The request's current time (``NOW()``, ``TODAY()``)."""

    def field(self, field_id: str) -> Any:
        """Return the formula value of a field of the current record."""

    def last_modified(self, field_ids: Sequence[str]) -> datetime | None:
        """Return when any of ``field_ids`` (all fields when empty) last changed."""


Evaluator = Callable[[FormulaContext], Any]
Resolver = Callable[[str], str | None]
Node = tuple[Any, ...]


# --- tokenizer ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token; ``kind`` is NUM, STR, FIELD, IDENT, OP, LPAREN, RPAREN, COMMA or EOF."""

    kind: str
    value: Any
    pos: int


_NUM_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("!=", "<>", ">=", "<=", "=", "<", ">", "&", "+", "-", "*", "/")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def tokenize(text: str) -> list[Token]:
    """Split formula text into tokens.

    Args:
        text: The formula.

    Raises:
        FormulaError: On an unterminated string/field reference or an unexpected character.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == "{":
            j, buf = i + 1, []
            while j < n and text[j] != "}":
                # pyairtable escapes a closing brace inside a field name as "\}".
                if text[j] == "\\" and j + 1 < n and text[j + 1] in "}\\":
                    buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise FormulaError(f"Invalid formula: unterminated field reference at {i}")
            tokens.append(Token("FIELD", "".join(buf), i))
            i = j + 1
            continue
        if char in "'\"":
            j, buf = i + 1, []
            while j < n and text[j] != char:
                if text[j] == "\\" and j + 1 < n:
                    buf.append(_ESCAPES.get(text[j + 1], text[j + 1]))
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise FormulaError(f"Invalid formula: unterminated string at {i}")
            tokens.append(Token("STR", "".join(buf), i))
            i = j + 1
            continue
        if char.isdigit() or (char == "." and i + 1 < n and text[i + 1].isdigit()):
            match = _NUM_RE.match(text, i)
            assert match is not None
            literal = match.group(0)
            number: int | float = (
                int(literal) if literal.isdigit() else _normalize_number(float(literal))
            )
            tokens.append(Token("NUM", number, i))
            i = match.end()
            continue
        if char.isalpha() or char == "_":
            match = _IDENT_RE.match(text, i)
            assert match is not None
            tokens.append(Token("IDENT", match.group(0), i))
            i = match.end()
            continue
        if char == "(":
            tokens.append(Token("LPAREN", char, i))
            i += 1
            continue
        if char == ")":
            tokens.append(Token("RPAREN", char, i))
            i += 1
            continue
        if char == ",":
            tokens.append(Token("COMMA", char, i))
            i += 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("OP", "!=" if op == "<>" else op, i))
                i += len(op)
                break
        else:
            raise FormulaError(f"Invalid formula: unexpected character {char!r} at {i}")
    tokens.append(Token("EOF", None, n))
    return tokens


# --- parser ------------------------------------------------------------------------------------

_COMPARISONS = frozenset({"=", "!=", ">", ">=", "<", "<="})


class _Parser:
    """Recursive-descent parser; precedence (low to high): comparison, ``&``, ``+ -``, ``* /``."""

    def __init__(self, tokens: list[Token], resolve: Resolver, variables: frozenset[str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.resolve = resolve
        self.variables = variables
        self.unknown_fields: list[str] = []

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str) -> Token:
        token = self.take()
        if token.kind != kind:
            raise FormulaError(f"Invalid formula: unexpected {_describe(token)} at {token.pos}")
        return token

    def parse(self) -> Node:
        node = self.comparison()
        token = self.peek()
        if token.kind != "EOF":
            raise FormulaError(f"Invalid formula: unexpected {_describe(token)} at {token.pos}")
        return node

    def comparison(self) -> Node:
        node = self.concat()
        while self.peek().kind == "OP" and self.peek().value in _COMPARISONS:
            op = self.take().value
            node = ("op", op, node, self.concat())
        return node

    def concat(self) -> Node:
        node = self.additive()
        while self.peek().kind == "OP" and self.peek().value == "&":
            self.take()
            node = ("op", "&", node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.term()
        while self.peek().kind == "OP" and self.peek().value in ("+", "-"):
            op = self.take().value
            node = ("op", op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek().kind == "OP" and self.peek().value in ("*", "/"):
            op = self.take().value
            node = ("op", op, node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "OP" and token.value in ("-", "+"):
            self.take()
            operand = self.unary()
            return ("neg", operand) if token.value == "-" else ("pos", operand)
        return self.primary()

    def field_ref(self, name: str) -> Node:
        field_id = self.resolve(name)
        if field_id is None:
            if name not in self.unknown_fields:
                self.unknown_fields.append(name)
            return ("num", 0)
        return ("field", field_id, name)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "NUM":
            return ("num", token.value)
        if token.kind == "STR":
            return ("str", token.value)
        if token.kind == "FIELD":
            return self.field_ref(token.value)
        if token.kind == "LPAREN":
            node = self.comparison()
            self.expect("RPAREN")
            return node
        if token.kind == "IDENT":
            if self.peek().kind == "LPAREN":
                return self.call(token)
            if token.value.upper() in ("TRUE", "FALSE"):
                return ("call", token.value.upper(), [])
            if token.value in self.variables:
                return ("var", token.value)
            # Airtable accepts single-word field names without braces.
            return self.field_ref(token.value)
        raise FormulaError(f"Invalid formula: unexpected {_describe(token)} at {token.pos}")

    def call(self, name_token: Token) -> Node:
        name = name_token.value.upper()
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise FormulaError(f"Unknown function name: {name_token.value}")
        self.expect("LPAREN")
        args: list[Node] = []
        if self.peek().kind != "RPAREN":
            args.append(self.comparison())
            while self.peek().kind == "COMMA":
                self.take()
                args.append(self.comparison())
        self.expect("RPAREN")
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            raise FormulaError(f"Invalid formula: {name}() does not accept {len(args)} arguments")
        if name == "LAST_MODIFIED_TIME" and any(arg[0] != "field" for arg in args):
            raise FormulaError("Invalid formula: LAST_MODIFIED_TIME() only accepts field names")
        return ("call", name, args)


def _describe(token: Token) -> str:
    return "end of formula" if token.kind == "EOF" else repr(str(token.value))


# --- value coercion ------------------------------------------------------------------------------


def _normalize_number(value: float) -> int | float:
    """Integral floats become ints so ``3.0`` prints and serialises as ``3``."""
    if isinstance(value, int):
        return value
    if value != value or value in (math.inf, -math.inf):
        raise FormulaRuntimeError("NaN")
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def is_blank(value: Any) -> bool:
    """Blank in Airtable's sense: null, empty text or an empty list."""
    return value is None or (isinstance(value, (str, list)) and not value)


def format_number(value: int | float) -> str:
    """Render a number as Airtable formulas do (no trailing ``.0``)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def _dict_text(value: dict[str, Any]) -> str:
    if "filename" in value:
        return f"{value.get('filename')} ({value.get('url')})"
    for key in ("name", "email", "text", "label", "value"):
        if value.get(key):
            return str(value[key])
    return ""


def to_text(value: Any) -> str:
    """Coerce to text (``&``, string functions, ``=`` between mixed types)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return format_number(value)
    if isinstance(value, datetime):
        return dates.format_iso(value)
    if isinstance(value, list):
        return ", ".join(to_text(item) for item in value if not is_blank(item))
    if isinstance(value, dict):
        return _dict_text(value)
    return str(value)


_INT_RE = re.compile(r"[+-]?\d+")


def _number_from_text(text: str) -> int | float | None:
    text = text.strip()
    if not text:
        return 0
    if _INT_RE.fullmatch(text):
        return int(text)
    try:
        return _normalize_number(float(text))
    except (ValueError, FormulaRuntimeError):
        return None


def _try_number(value: Any) -> int | float | None:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return _number_from_text(value)
    return None


def to_number(value: Any) -> int | float:
    """Coerce to a number (arithmetic, numeric functions); non-numbers are ``#ERROR!``."""
    if isinstance(value, list):
        items = [item for item in value if not is_blank(item)]
        if not items:
            return 0
        if len(items) == 1:
            return to_number(items[0])
        raise FormulaRuntimeError("Cannot use a list as a number")
    number = _try_number(value)
    if number is None:
        raise FormulaRuntimeError(f"Cannot convert {to_text(value)!r} to a number")
    return number


def to_bool(value: Any) -> bool:
    """Truthiness as used by ``IF``, ``AND``, ``OR`` and record filtering."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        return any(not is_blank(item) for item in value)
    return True


def _try_date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return dates.parse_loose(value)
    if isinstance(value, list):
        items = [item for item in value if not is_blank(item)]
        return _try_date(items[0]) if items else None
    return None


def to_date(value: Any) -> datetime | None:
    """Coerce to a datetime; blank stays ``None``, unparseable text is ``#ERROR!``."""
    if is_blank(value):
        return None
    parsed = _try_date(value)
    if parsed is None:
        raise FormulaRuntimeError(f"Cannot convert {to_text(value)!r} to a date")
    return parsed


def _scalar(value: Any) -> Any:
    """Lists compare as their single item, or as ``"a, b"`` text (linked records, selects)."""
    if isinstance(value, list):
        items = [item for item in value if not is_blank(item)]
        if not items:
            return None
        if len(items) == 1:
            return items[0]
        return to_text(items)
    if isinstance(value, dict):
        return _dict_text(value)
    return value


def values_equal(left: Any, right: Any) -> bool:
    """Airtable ``=``: blank equals ``""``/``0``/false; numbers, dates and text compare sensibly."""
    left, right = _scalar(left), _scalar(right)
    if left is None or right is None:
        other = right if left is None else left
        return other is None or other == "" or other is False or other == 0
    if isinstance(left, datetime) or isinstance(right, datetime):
        left_date, right_date = _try_date(left), _try_date(right)
        return left_date is not None and left_date == right_date
    if isinstance(left, (bool, int, float)) or isinstance(right, (bool, int, float)):
        left_num, right_num = _try_number(left), _try_number(right)
        if left_num is not None and right_num is not None:
            return left_num == right_num
    return to_text(left) == to_text(right)


def compare_values(left: Any, right: Any) -> int | None:
    """Ordering for ``< > <= >=``; ``None`` means incomparable (the comparison is false)."""
    left, right = _scalar(left), _scalar(right)
    if isinstance(left, datetime) or isinstance(right, datetime):
        left_date, right_date = _try_date(left), _try_date(right)
        if left_date is None or right_date is None:
            return None
        return (left_date > right_date) - (left_date < right_date)
    left_num, right_num = _try_number(left), _try_number(right)
    if left_num is not None and right_num is not None:
        return (left_num > right_num) - (left_num < right_num)
    left_text, right_text = to_text(left), to_text(right)
    return (left_text > right_text) - (left_text < right_text)


def _flatten(values: Iterable[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


def _logical_items(values: Iterable[Any]) -> Iterator[Any]:
    # An empty list argument is one blank item, so AND({Empty Tags}) is false, not vacuously true.
    for value in values:
        if isinstance(value, list):
            if value:
                yield from _logical_items(value)
            else:
                yield None
        else:
            yield value


def _numbers(values: Iterable[Any]) -> list[int | float]:
    result = []
    for value in _flatten(values):
        if is_blank(value):
            continue
        number = _try_number(value)
        if number is not None:
            result.append(number)
    return result


def _int_arg(value: Any) -> int:
    return int(to_number(value))


# --- function library --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """How to call a formula function; ``mode`` is ``eager``, ``ctx`` or ``lazy``."""

    impl: Callable[..., Any]
    min_args: int
    max_args: int | None
    mode: str


FUNCTIONS: dict[str, FunctionSpec] = {}


def _fn(
    name: str, min_args: int, max_args: int | None = -1, mode: str = "eager"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = FunctionSpec(
            impl, min_args, min_args if max_args == -1 else max_args, mode
        )
        return impl

    return register


# Logical


@_fn("TRUE", 0)
def _true() -> bool:
    return True


@_fn("FALSE", 0)
def _false() -> bool:
    return False


@_fn("BLANK", 0)
def _blank() -> None:
    return None


@_fn("ERROR", 0)
def _error() -> None:
    raise FormulaRuntimeError("ERROR()")


@_fn("AND", 1, None)
def _and(*args: Any) -> bool:
    return all(to_bool(item) for item in _logical_items(args))


@_fn("OR", 1, None)
def _or(*args: Any) -> bool:
    return any(to_bool(item) for item in _logical_items(args))


@_fn("XOR", 1, None)
def _xor(*args: Any) -> bool:
    return sum(1 for item in _logical_items(args) if to_bool(item)) % 2 == 1


@_fn("NOT", 1)
def _not(value: Any) -> bool:
    return not to_bool(value)


@_fn("IF", 2, 3, mode="lazy")
def _if(ctx: FormulaContext, args: list[Evaluator]) -> Any:
    if to_bool(args[0](ctx)):
        return args[1](ctx)
    return args[2](ctx) if len(args) > 2 else None


@_fn("SWITCH", 2, None, mode="lazy")
def _switch(ctx: FormulaContext, args: list[Evaluator]) -> Any:
    value = args[0](ctx)
    rest = args[1:]
    for index in range(0, len(rest) - 1, 2):
        if values_equal(value, rest[index](ctx)):
            return rest[index + 1](ctx)
    return rest[-1](ctx) if len(rest) % 2 == 1 else None


@_fn("ISERROR", 1, mode="lazy")
def _iserror(ctx: FormulaContext, args: list[Evaluator]) -> bool:
    try:
        args[0](ctx)
    except FormulaRuntimeError:
        return True
    return False


# Text


@_fn("CONCATENATE", 1, None)
def _concatenate(*args: Any) -> str:
    return "".join(to_text(arg) for arg in args)


@_fn("LEN", 1)
def _len(value: Any) -> int:
    return len(to_text(value))


@_fn("LOWER", 1)
def _lower(value: Any) -> str:
    return to_text(value).lower()


@_fn("UPPER", 1)
def _upper(value: Any) -> str:
    return to_text(value).upper()


@_fn("TRIM", 1)
def _trim(value: Any) -> str:
    return to_text(value).strip()


@_fn("LEFT", 2)
def _left(value: Any, count: Any) -> str:
    n = _int_arg(count)
    if n < 0:
        raise FormulaRuntimeError("LEFT() count must not be negative")
    return to_text(value)[:n]


@_fn("RIGHT", 2)
def _right(value: Any, count: Any) -> str:
    n = _int_arg(count)
    if n < 0:
        raise FormulaRuntimeError("RIGHT() count must not be negative")
    return to_text(value)[-n:] if n else ""


@_fn("MID", 3)
def _mid(value: Any, start: Any, count: Any) -> str:
    begin, n = _int_arg(start), _int_arg(count)
    if begin < 1 or n < 0:
        raise FormulaRuntimeError("MID() needs a start >= 1 and a count >= 0")
    return to_text(value)[begin - 1 : begin - 1 + n]


def _find_index(needle: Any, haystack: Any, start: Any) -> int:
    text, target = to_text(haystack), to_text(needle)
    begin = max(_int_arg(start) - 1, 0) if start is not None else 0
    return text.find(target, begin) + 1


@_fn("FIND", 2, 3)
def _find(needle: Any, haystack: Any, start: Any = None) -> int:
    return _find_index(needle, haystack, start)


@_fn("SEARCH", 2, 3)
def _search(needle: Any, haystack: Any, start: Any = None) -> int | None:
    # Same as FIND but blank instead of 0 when nothing is found.
    return _find_index(needle, haystack, start) or None


@_fn("REPLACE", 4)
def _replace(value: Any, start: Any, count: Any, replacement: Any) -> str:
    text, begin, n = to_text(value), _int_arg(start), _int_arg(count)
    if begin < 1 or n < 0:
        raise FormulaRuntimeError("REPLACE() needs a start >= 1 and a count >= 0")
    return text[: begin - 1] + to_text(replacement) + text[begin - 1 + n :]


@_fn("SUBSTITUTE", 3, 4)
def _substitute(value: Any, old: Any, new: Any, index: Any = None) -> str:
    text, old_text, new_text = to_text(value), to_text(old), to_text(new)
    if not old_text:
        return text
    if index is None:
        return text.replace(old_text, new_text)
    occurrence = _int_arg(index)
    position = -1
    for _ in range(max(occurrence, 1)):
        position = text.find(old_text, position + 1)
        if position < 0:
            return text
    return text[:position] + new_text + text[position + len(old_text) :]


@_fn("REPT", 2)
def _rept(value: Any, count: Any) -> str:
    return to_text(value) * max(_int_arg(count), 0)


@_fn("T", 1)
def _t(value: Any) -> str | None:
    if isinstance(value, list):
        value = _scalar(value)
    return value if isinstance(value, str) else None


@_fn("VALUE", 1)
def _value(value: Any) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    cleaned = re.sub(r"[^\d.eE+-]", "", to_text(value))
    number = _number_from_text(cleaned) if cleaned else None
    if number is None:
        raise FormulaRuntimeError(f"VALUE() cannot read {to_text(value)!r}")
    return number


@_fn("ENCODE_URL_COMPONENT", 1)
def _encode_url_component(value: Any) -> str:
    return urllib.parse.quote(to_text(value), safe="-_.~")


def _regex(pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(to_text(pattern))
    except re.error as exc:
        raise FormulaRuntimeError(f"Invalid regular expression: {exc}") from exc


@_fn("REGEX_MATCH", 2)
def _regex_match(value: Any, pattern: Any) -> bool:
    return _regex(pattern).search(to_text(value)) is not None


@_fn("REGEX_EXTRACT", 2)
def _regex_extract(value: Any, pattern: Any) -> str | None:
    match = _regex(pattern).search(to_text(value))
    return match.group(0) if match else None


@_fn("REGEX_REPLACE", 3)
def _regex_replace(value: Any, pattern: Any, replacement: Any) -> str:
    # Airtable (RE2/JS) refers to groups as $1; Python wants \g<1>.
    template = re.sub(r"\$(\d+)", r"\\g<\1>", to_text(replacement).replace("\\", "\\\\"))
    try:
        return _regex(pattern).sub(template, to_text(value))
    except re.error as exc:
        raise FormulaRuntimeError(str(exc)) from exc


# Arrays


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


@_fn("ARRAYJOIN", 1, 2)
def _arrayjoin(values: Any, separator: Any = ", ") -> str:
    return to_text(separator).join(
        to_text(item) for item in _flatten(_as_list(values)) if not is_blank(item)
    )


@_fn("ARRAYUNIQUE", 1)
def _arrayunique(values: Any) -> list[Any]:
    result: list[Any] = []
    for item in _flatten(_as_list(values)):
        if item not in result:
            result.append(item)
    return result


@_fn("ARRAYCOMPACT", 1)
def _arraycompact(values: Any) -> list[Any]:
    return [item for item in _flatten(_as_list(values)) if not is_blank(item)]


@_fn("ARRAYFLATTEN", 1)
def _arrayflatten(values: Any) -> list[Any]:
    return list(_flatten(_as_list(values)))


@_fn("ARRAYSLICE", 2, 3)
def _arrayslice(values: Any, start: Any, end: Any = None) -> list[Any]:
    items = list(_flatten(_as_list(values)))
    first = _int_arg(start)
    begin = first - 1 if first > 0 else len(items) + first
    if end is None:
        return items[begin:]
    last = _int_arg(end)
    stop = last if last > 0 else len(items) + last + 1
    return items[begin:stop]


# Numbers


@_fn("ABS", 1)
def _abs(value: Any) -> int | float:
    return abs(to_number(value))


@_fn("SUM", 1, None)
def _sum(*args: Any) -> int | float:
    total = sum(_numbers(args))
    return _normalize_number(total) if isinstance(total, float) else total


@_fn("AVERAGE", 1, None)
def _average(*args: Any) -> int | float:
    numbers = _numbers(args)
    return _normalize_number(sum(numbers) / len(numbers)) if numbers else 0


def _extreme(args: Sequence[Any], pick: Callable[..., Any]) -> Any:
    items = [item for item in _flatten(args) if not is_blank(item)]
    if items and all(isinstance(item, datetime) for item in items):
        return pick(items)
    numbers = _numbers(items)
    return pick(numbers) if numbers else 0


@_fn("MAX", 1, None)
def _max(*args: Any) -> Any:
    return _extreme(args, max)


@_fn("MIN", 1, None)
def _min(*args: Any) -> Any:
    return _extreme(args, min)


@_fn("COUNT", 1, None)
def _count(*args: Any) -> int:
    return sum(
        1
        for item in _flatten(args)
        if isinstance(item, (int, float)) and not isinstance(item, bool)
    )


@_fn("COUNTA", 1, None)
def _counta(*args: Any) -> int:
    return sum(1 for item in _flatten(args) if not is_blank(item))


@_fn("COUNTALL", 1, None)
def _countall(*args: Any) -> int:
    return sum(1 for _ in _flatten(args))


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(to_number(value)))
    except InvalidOperation as exc:
        raise FormulaRuntimeError(str(exc)) from exc


def _round(value: Any, precision: Any, mode: str) -> int | float:
    number, places = _decimal(value), _int_arg(precision)
    scale = Decimal(1).scaleb(places)
    shifted = number * scale
    if mode == "half_up":
        # Ties go toward +infinity: ROUND(-2.5, 0) = -2, as Airtable documents.
        rounded = (shifted + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR)
    else:
        rounded = shifted.to_integral_value(rounding=ROUND_DOWN if mode == "down" else ROUND_UP)
    return _normalize_number(float(rounded / scale))


@_fn("ROUND", 2)
def _round_half(value: Any, precision: Any) -> int | float:
    return _round(value, precision, "half_up")


@_fn("ROUNDDOWN", 2)
def _rounddown(value: Any, precision: Any) -> int | float:
    return _round(value, precision, "down")


@_fn("ROUNDUP", 2)
def _roundup(value: Any, precision: Any) -> int | float:
    return _round(value, precision, "up")


@_fn("CEILING", 1, 2)
def _ceiling(value: Any, significance: Any = None) -> int | float:
    step = to_number(significance) if significance is not None else 1
    if step == 0:
        return 0
    return _normalize_number(math.ceil(to_number(value) / step) * step)


@_fn("FLOOR", 1, 2)
def _floor(value: Any, significance: Any = None) -> int | float:
    step = to_number(significance) if significance is not None else 1
    if step == 0:
        return 0
    return _normalize_number(math.floor(to_number(value) / step) * step)


@_fn("INT", 1)
def _int(value: Any) -> int:
    return math.floor(to_number(value))


@_fn("EVEN", 1)
def _even(value: Any) -> int:
    number = to_number(value)
    magnitude = math.ceil(abs(number))
    magnitude += magnitude % 2
    return magnitude if number >= 0 else -magnitude


@_fn("ODD", 1)
def _odd(value: Any) -> int:
    number = to_number(value)
    magnitude = math.ceil(abs(number))
    if magnitude % 2 == 0:
        magnitude += 1
    return magnitude if number >= 0 else -magnitude


@_fn("EXP", 1)
def _exp(value: Any) -> int | float:
    try:
        return _normalize_number(math.exp(to_number(value)))
    except OverflowError as exc:
        raise FormulaRuntimeError("EXP() overflow") from exc


@_fn("LOG", 1, 2)
def _log(value: Any, base: Any = None) -> int | float:
    number = to_number(value)
    log_base = to_number(base) if base is not None else 10
    if number <= 0 or log_base <= 0 or log_base == 1:
        raise FormulaRuntimeError("LOG() of a non-positive number")
    return _normalize_number(math.log(number, log_base))


@_fn("MOD", 2)
def _mod(value: Any, divisor: Any) -> int | float:
    number, by = to_number(value), to_number(divisor)
    if by == 0:
        raise FormulaRuntimeError("MOD() by zero")
    return _normalize_number(float(number % by))


@_fn("POWER", 2)
def _power(base: Any, exponent: Any) -> int | float:
    try:
        result = to_number(base) ** to_number(exponent)
    except (OverflowError, ZeroDivisionError) as exc:
        raise FormulaRuntimeError("POWER() failed") from exc
    if isinstance(result, complex):
        raise FormulaRuntimeError("POWER() has no real result")
    return _normalize_number(float(result))


@_fn("SQRT", 1)
def _sqrt(value: Any) -> int | float:
    number = to_number(value)
    if number < 0:
        raise FormulaRuntimeError("SQRT() of a negative number")
    return _normalize_number(math.sqrt(number))


# Dates


def _unit(value: Any, default: str = "s") -> str:
    if is_blank(value):
        return default
    unit = dates.normalize_unit(to_text(value))
    if unit is None:
        raise FormulaRuntimeError(f"Unknown unit {to_text(value)!r}")
    return unit


def _holidays(value: Any) -> set[date]:
    result = set()
    for part in to_text(value).split(","):
        parsed = dates.parse_loose(part.strip()) if part.strip() else None
        if parsed is not None:
            result.add(parsed.date())
    return result


@_fn("NOW", 0, mode="ctx")
def _now(ctx: FormulaContext) -> datetime:
    return ctx.now


@_fn("TODAY", 0, mode="ctx")
def _today(ctx: FormulaContext) -> datetime:
    return ctx.now.replace(hour=0, minute=0, second=0, microsecond=0)


@_fn("RECORD_ID", 0, mode="ctx")
def _record_id(ctx: FormulaContext) -> str:
    return ctx.record_id


@_fn("CREATED_TIME", 0, mode="ctx")
def _created_time(ctx: FormulaContext) -> datetime:
    return ctx.created_time


# LAST_MODIFIED_TIME is compiled specially (it needs field ids, not values); this entry only
# provides the arity for the parser.
FUNCTIONS["LAST_MODIFIED_TIME"] = FunctionSpec(lambda: None, 0, None, "special")


@_fn("DATEADD", 3)
def _dateadd(value: Any, count: Any, unit: Any) -> datetime | None:
    start = to_date(value)
    if start is None:
        return None
    return dates.add_units(start, to_number(count), _unit(unit))


@_fn("DATESTR", 1)
def _datestr(value: Any) -> str | None:
    parsed = to_date(value)
    return dates.format_date(parsed) if parsed else None


@_fn("TIMESTR", 1)
def _timestr(value: Any) -> str | None:
    parsed = to_date(value)
    return parsed.strftime("%H:%M:%S") if parsed else None


@_fn("DATETIME_DIFF", 2, 3)
def _datetime_diff(first: Any, second: Any, unit: Any = None) -> int | float | None:
    left, right = to_date(first), to_date(second)
    if left is None or right is None:
        return None
    return dates.diff_units(left, right, _unit(unit))


@_fn("DATETIME_FORMAT", 1, 2)
def _datetime_format(value: Any, fmt: Any = None) -> str | None:
    parsed = to_date(value)
    if parsed is None:
        return None
    if is_blank(fmt):
        return dates.format_iso(parsed)
    return dates.format_moment(parsed, to_text(fmt))


@_fn("DATETIME_PARSE", 1, 3)
def _datetime_parse(value: Any, fmt: Any = None, locale: Any = None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if is_blank(value):
        return None
    text = to_text(value)
    parsed = dates.parse_moment(text, to_text(fmt)) if not is_blank(fmt) else None
    if parsed is None:
        parsed = dates.parse_loose(text)
    if parsed is None:
        raise FormulaRuntimeError(f"DATETIME_PARSE() cannot read {text!r}")
    return parsed


def _date_part(value: Any, part: Callable[[datetime], int]) -> int | None:
    parsed = to_date(value)
    return part(parsed) if parsed else None


@_fn("YEAR", 1)
def _year(value: Any) -> int | None:
    return _date_part(value, lambda d: d.year)


@_fn("MONTH", 1)
def _month(value: Any) -> int | None:
    return _date_part(value, lambda d: d.month)


@_fn("DAY", 1)
def _day(value: Any) -> int | None:
    return _date_part(value, lambda d: d.day)


@_fn("HOUR", 1)
def _hour(value: Any) -> int | None:
    return _date_part(value, lambda d: d.hour)


@_fn("MINUTE", 1)
def _minute(value: Any) -> int | None:
    return _date_part(value, lambda d: d.minute)


@_fn("SECOND", 1)
def _second(value: Any) -> int | None:
    return _date_part(value, lambda d: d.second)


def _week_start(value: Any) -> int:
    return 1 if to_text(value).strip().lower().startswith("mon") else 0


@_fn("WEEKDAY", 1, 2)
def _weekday(value: Any, start: Any = None) -> int | None:
    offset = _week_start(start)
    return _date_part(value, lambda d: ((d.weekday() + 1) % 7 - offset) % 7)


@_fn("WEEKNUM", 1, 2)
def _weeknum(value: Any, start: Any = None) -> int | None:
    offset = _week_start(start)
    return _date_part(value, lambda d: dates.week_number(d, offset))


@_fn("FROMNOW", 1, mode="ctx")
def _fromnow(ctx: FormulaContext, value: Any) -> int | float | None:
    parsed = to_date(value)
    return abs(dates.diff_units(parsed, ctx.now, "d")) if parsed else None


@_fn("TONOW", 1, mode="ctx")
def _tonow(ctx: FormulaContext, value: Any) -> int | float | None:
    parsed = to_date(value)
    return abs(dates.diff_units(ctx.now, parsed, "d")) if parsed else None


@_fn("IS_AFTER", 2)
def _is_after(first: Any, second: Any) -> bool:
    left, right = to_date(first), to_date(second)
    return left is not None and right is not None and left > right


@_fn("IS_BEFORE", 2)
def _is_before(first: Any, second: Any) -> bool:
    left, right = to_date(first), to_date(second)
    return left is not None and right is not None and left < right


@_fn("IS_SAME", 2, 3)
def _is_same(first: Any, second: Any, unit: Any = None) -> bool:
    left, right = to_date(first), to_date(second)
    if left is None or right is None:
        return False
    canonical = _unit(unit, default="ms")
    return dates.truncate(left.astimezone(UTC), canonical) == dates.truncate(
        right.astimezone(UTC), canonical
    )


@_fn("SET_LOCALE", 2)
def _set_locale(value: Any, locale: Any) -> datetime | None:
    return to_date(value)


@_fn("SET_TIMEZONE", 2)
def _set_timezone(value: Any, tz_name: Any) -> datetime | None:
    parsed = to_date(value)
    return dates.to_zone(parsed, to_text(tz_name)) if parsed else None


@_fn("WORKDAY", 2, 3)
def _workday(start: Any, days: Any, holidays: Any = None) -> datetime | None:
    parsed = to_date(start)
    if parsed is None:
        return None
    return dates.workday(parsed, _int_arg(days), _holidays(holidays) if holidays else set())


@_fn("WORKDAY_DIFF", 2, 3)
def _workday_diff(start: Any, end: Any, holidays: Any = None) -> int | None:
    left, right = to_date(start), to_date(end)
    if left is None or right is None:
        return None
    return dates.workday_diff(left, right, _holidays(holidays) if holidays else set())


# --- compiler ----------------------------------------------------------------------------------


def _negate(value: Any) -> int | float:
    return -to_number(value)


def _binary(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    if op == "=":
        return lambda ctx: values_equal(left(ctx), right(ctx))
    if op == "!=":
        return lambda ctx: not values_equal(left(ctx), right(ctx))
    if op in (">", ">=", "<", "<="):
        accept = {">": (1,), ">=": (0, 1), "<": (-1,), "<=": (-1, 0)}[op]

        def compare(ctx: FormulaContext) -> bool:
            return compare_values(left(ctx), right(ctx)) in accept

        return compare
    if op == "&":
        return lambda ctx: to_text(left(ctx)) + to_text(right(ctx))

    def arithmetic(ctx: FormulaContext) -> int | float:
        a, b = to_number(left(ctx)), to_number(right(ctx))
        if op == "+":
            result = a + b
        elif op == "-":
            result = a - b
        elif op == "*":
            result = a * b
        else:
            if b == 0:
                raise FormulaRuntimeError("Division by zero")
            result = a / b
        return _normalize_number(float(result)) if isinstance(result, float) else result

    return arithmetic


def _compile(node: Node) -> Evaluator:
    kind = node[0]
    if kind in ("num", "str"):
        constant = node[1]
        return lambda ctx: constant
    if kind == "field":
        field_id = node[1]
        return lambda ctx: ctx.field(field_id)
    if kind == "var":
        return lambda ctx: ctx.values
    if kind == "neg":
        operand = _compile(node[1])
        return lambda ctx: _negate(operand(ctx))
    if kind == "pos":
        operand = _compile(node[1])
        return lambda ctx: to_number(operand(ctx))
    if kind == "op":
        return _binary(node[1], _compile(node[2]), _compile(node[3]))
    name, arg_nodes = node[1], node[2]
    if name == "LAST_MODIFIED_TIME":
        field_ids = [arg[1] for arg in arg_nodes]
        return lambda ctx: ctx.last_modified(field_ids)
    spec = FUNCTIONS[name]
    args = [_compile(arg) for arg in arg_nodes]
    impl = spec.impl
    if spec.mode == "lazy":
        return lambda ctx: impl(ctx, args)
    if spec.mode == "ctx":
        return lambda ctx: impl(ctx, *[arg(ctx) for arg in args])
    if not args:
        return lambda ctx: impl()
    return lambda ctx: impl(*[arg(ctx) for arg in args])


@dataclass(frozen=True)
class CompiledFormula:
    """A parsed, validated and compiled formula."""

    text: str
    ast: Node
    evaluate: Evaluator
    field_ids: frozenset[str]

    def matches(self, ctx: FormulaContext) -> bool:
        """Evaluate as a filter: true when the result is truthy and not an error."""
        try:
            return to_bool(self.evaluate(ctx))
        except FormulaRuntimeError:
            return False


def _collect_fields(node: Node, into: set[str]) -> None:
    if node[0] == "field":
        into.add(node[1])
    elif node[0] in ("neg", "pos"):
        _collect_fields(node[1], into)
    elif node[0] == "op":
        _collect_fields(node[2], into)
        _collect_fields(node[3], into)
    elif node[0] == "call":
        for arg in node[2]:
            _collect_fields(arg, into)


def compile_formula(
    text: str, resolve: Resolver, *, variables: Iterable[str] = ()
) -> CompiledFormula:
    """Parse and compile a formula.

    Args:
        text: Formula source, e.g. ``AND({Status} = 'Done', {Amount} > 100)``.
        resolve: Maps a field name (or field id) to the field id, or ``None`` when unknown.
        variables: Bare identifiers that are variables rather than fields (``values`` in rollups).

    Returns:
        The compiled formula.

    Raises:
        FormulaError: With a message naming the unknown field(s), function or syntax problem.
    """
    parser = _Parser(tokenize(text), resolve, frozenset(variables))
    if parser.peek().kind == "EOF":
        raise FormulaError("Invalid formula: the formula is empty")
    ast = parser.parse()
    if parser.unknown_fields:
        raise FormulaError("Unknown field names: " + ", ".join(parser.unknown_fields))
    field_ids: set[str] = set()
    _collect_fields(ast, field_ids)
    return CompiledFormula(text, ast, _compile(ast), frozenset(field_ids))


# --- result type inference (for the metadata API's formula ``options.result``) ---------------

_NUMBER_RESULT = {
    "ABS",
    "AVERAGE",
    "CEILING",
    "COUNT",
    "COUNTA",
    "COUNTALL",
    "EVEN",
    "EXP",
    "FLOOR",
    "INT",
    "LOG",
    "MAX",
    "MIN",
    "MOD",
    "ODD",
    "POWER",
    "ROUND",
    "ROUNDDOWN",
    "ROUNDUP",
    "SQRT",
    "SUM",
    "VALUE",
    "LEN",
    "FIND",
    "SEARCH",
    "DATETIME_DIFF",
    "DAY",
    "MONTH",
    "YEAR",
    "HOUR",
    "MINUTE",
    "SECOND",
    "WEEKDAY",
    "WEEKNUM",
    "WORKDAY_DIFF",
    "FROMNOW",
    "TONOW",
    "AND",
    "OR",
    "NOT",
    "XOR",
    "ISERROR",
    "IS_AFTER",
    "IS_BEFORE",
    "IS_SAME",
    "REGEX_MATCH",
    "TRUE",
    "FALSE",
}
_DATE_RESULT = {
    "CREATED_TIME",
    "LAST_MODIFIED_TIME",
    "NOW",
    "TODAY",
    "DATEADD",
    "DATETIME_PARSE",
    "SET_LOCALE",
    "SET_TIMEZONE",
    "WORKDAY",
}

DATETIME_RESULT_OPTIONS = {
    "timeZone": "utc",
    "dateFormat": {"format": "YYYY-MM-DD", "name": "iso"},
    "timeFormat": {"format": "HH:mm", "name": "24hour"},
}


def infer_result(
    node: Node, field_config: Callable[[str], dict[str, Any] | None]
) -> dict[str, Any]:
    """Guess the ``result`` field config of a formula (Airtable reports one per formula field).

    Args:
        node: The formula AST.
        field_config: Returns ``{"type": ..., "options": ...}`` for a referenced field id.
    """
    kind = node[0]
    number = {"type": "number", "options": {"precision": 0}}
    text = {"type": "singleLineText"}
    if kind == "num":
        return {"type": "number", "options": {"precision": 0 if isinstance(node[1], int) else 2}}
    if kind in ("neg", "pos"):
        return number
    if kind == "op":
        if node[1] == "&":
            return text
        if node[1] == "/":
            return {"type": "number", "options": {"precision": 2}}
        return number
    if kind == "field":
        return field_config(node[1]) or text
    if kind == "call":
        name = node[1]
        if name in _NUMBER_RESULT:
            return number
        if name in _DATE_RESULT:
            return {"type": "dateTime", "options": dict(DATETIME_RESULT_OPTIONS)}
        if name == "IF":
            return infer_result(node[2][1], field_config)
        if name == "SWITCH":
            return infer_result(node[2][2] if len(node[2]) > 2 else node[2][1], field_config)
    return text
