"""Nothing changes Airtable except through the write pipeline (`actions.steps.StepWriter`).

A write must be previewed, approved, recorded step by step and undoable, so only
`StepWriter` may send one; `airtable.client` is the transport below it. This test reads
the package's source and fails on any other call that could send POST, PATCH, PUT or
DELETE to Airtable:

1. `x.request(method, ...)` (pyairtable's `Api`, `AirtableClient`, a requests session)
   whose method is anything but the literal "GET" or "HEAD";
2. a pyairtable method that sends such a request (`batch_create`, `update`,
   `create_field`, `save`...; the names are read from pyairtable's own source), called
   on a pyairtable object, or anywhere when no other type of ours or Python's has a
   method of that name;
3. `requests`/`httpx` verbs other than get and head.

The checker itself is tested on small snippets below, so a change that blinds it fails.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pyairtable
import pytest
from openpyxl import Workbook
from sqlmodel import Session

import pyairtable_ui

PACKAGE = Path(pyairtable_ui.__file__).parent

# (module path under pyairtable_ui/, class or function name, method name or "*").
ALLOWED = {
    # The write pipeline: every step is written PENDING, sent, and its outcome recorded.
    ("actions/steps.py", "StepWriter", "*"),
    # The transport under it: pacing, retries and counting of every request.
    ("airtable/client.py", "PacedSession", "request"),
    ("airtable/client.py", "AirtableClient", "request"),
    # Long formulas are sent as POST .../listRecords, which reads.
    ("airtable/client.py", "AirtableClient", "list_records_page"),
}

READ_METHODS = frozenset({"get", "head"})
REQUEST_CALLS = frozenset({"request", "iterate_requests"})
HTTP_VERBS = frozenset({"post", "put", "patch", "delete"})
HTTP_MODULES = frozenset({"requests", "httpx", "httpx2"})
# Names whose methods share a name with a pyairtable write and are not Airtable's:
# `rx.upload` is Reflex's file picker; `Resource.create` describes the app to
# OpenTelemetry (core/tracing.py).
NOT_AIRTABLE = frozenset({"rx", "Resource"})
# Calls whose result is a pyairtable object (or an HTTP client) in our code.
AIRTABLE_MAKERS = frozenset({"table", "base", "workspace", "enterprise", "webhooks", "comments"})
AIRTABLE_TYPES = frozenset({"Api", "Base", "Table", "Workspace", "Enterprise", "AirtableClient"})


@functools.cache
def pyairtable_write_methods() -> frozenset[str]:
    """Names of pyairtable methods that send POST/PATCH/PUT/DELETE, read from its source.

    A method writes when it calls `api.post/patch/put/delete`, or `request` with a
    method other than GET, or another writing method of its own object (`self.save()`,
    `cls.meta.table.batch_update(...)`).
    """
    root = Path(pyairtable.__file__).parent
    direct: set[str] = set()
    calls: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        if path.name == "testing.py":
            continue
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if fn.name in REQUEST_CALLS:
                    continue  # the generic request itself: rule 1 checks its method
                for call in ast.walk(fn):
                    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
                        continue
                    name, receiver = call.func.attr, ast.unparse(call.func.value)
                    if name in HTTP_VERBS and receiver.endswith("api"):
                        direct.add(fn.name)
                    elif name in REQUEST_CALLS and not _reads(call):
                        direct.add(fn.name)
                    elif receiver in ("self", "cls") or receiver.endswith(".table"):
                        calls.setdefault(fn.name, set()).add(name)
    writers = set(direct)
    grew = True
    while grew:
        grew = False
        for caller, called in calls.items():
            if caller not in writers and called & writers:
                writers.add(caller)
                grew = True
    return frozenset(writers)


def _method_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "method":
            return keyword.value
    return call.args[0] if call.args else None


def _reads(call: ast.Call) -> bool:
    """Whether a `request(...)` call surely reads: its method is a literal GET or HEAD."""
    method = _method_argument(call)
    if not (isinstance(method, ast.Constant) and isinstance(method.value, str)):
        return False
    return method.value.lower() in READ_METHODS


@functools.cache
def ambiguous_names() -> frozenset[str]:
    """Method names some other type has too (dict.update, Session.delete, our own tools).

    openpyxl's Workbook is here for the spreadsheet export to come (`workbook.save`).
    """
    kinds = (dict, set, list, str, bytes, Session, Workbook)
    names = {name for kind in kinds for name in dir(kind)}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return frozenset(names - {"post", "put", "patch"})


@dataclass(frozen=True)
class Violation:
    """A call that could change Airtable outside the write pipeline."""

    module: str
    line: int
    scope: str
    code: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} in {self.scope}: {self.code}  ({self.why})"


class _WriteFinder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.scope: list[str] = []
        self.airtable_names: list[set[str]] = [set()]
        self.found: list[Violation] = []

    # --- where we are --------------------------------------------------------------

    def _allowed(self) -> bool:
        for module, owner, method in ALLOWED:
            if module != self.module or not self.scope or self.scope[0] != owner:
                continue
            if method == "*" or (len(self.scope) > 1 and self.scope[1] == method):
                return True
        return False

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        names = set()
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            if arg.annotation is not None and _names_airtable_type(arg.annotation):
                names.add(arg.arg)
        # Flow-insensitive: a name ever bound to a pyairtable object counts as one.
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                value = inner.value
                targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                if value is not None and self._is_airtable(value, names):
                    names |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(inner, ast.For | ast.With):
                sources = (
                    [(inner.iter, inner.target)]
                    if isinstance(inner, ast.For)
                    else [(item.context_expr, item.optional_vars) for item in inner.items]
                )
                for source, target in sources:
                    if isinstance(target, ast.Name) and self._is_airtable(source, names):
                        names.add(target.id)
        self.airtable_names.append(names)
        self.generic_visit(node)
        self.airtable_names.pop()
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    # --- what a call is ------------------------------------------------------------

    def _is_airtable(self, node: ast.expr, names: set[str] | None = None) -> bool:
        """Whether an expression is (or is made from) a pyairtable object or HTTP client."""
        known = names if names is not None else self.airtable_names[-1]
        for part in ast.walk(node):
            if isinstance(part, ast.Name) and (part.id in known or part.id in HTTP_MODULES):
                return True
            if isinstance(part, ast.Attribute) and part.attr == "api":
                return True
            if isinstance(part, ast.Call):
                func = part.func
                if isinstance(func, ast.Name) and func.id in AIRTABLE_TYPES:
                    return True
                if isinstance(func, ast.Attribute) and (
                    func.attr in AIRTABLE_MAKERS or func.attr in AIRTABLE_TYPES
                ):
                    return True
        return False

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and not self._allowed():
            why = self._why_a_write(node, node.func)
            if why:
                self.found.append(
                    Violation(
                        self.module,
                        node.lineno,
                        ".".join(self.scope) or "module level",
                        ast.unparse(node),
                        why,
                    )
                )
        self.generic_visit(node)

    def _why_a_write(self, node: ast.Call, func: ast.Attribute) -> str | None:
        name = func.attr
        if name in REQUEST_CALLS and not _reads(node):
            return "a request whose method is not a literal GET"
        if name in pyairtable_write_methods():
            if isinstance(func.value, ast.Name) and func.value.id in NOT_AIRTABLE:
                return None
            if name not in ambiguous_names():
                return f"pyairtable's {name}() sends a write"
            if self._is_airtable(func.value):
                return f"{name}() on a pyairtable object or HTTP client sends a write"
        return None


def _names_airtable_type(annotation: ast.expr) -> bool:
    # `table: Table`, `api: pyairtable.Api`, `client: AirtableClient | None`; not TableSchema.
    for part in ast.walk(annotation):
        if isinstance(part, ast.Name) and part.id in AIRTABLE_TYPES:
            return True
        if isinstance(part, ast.Attribute) and part.attr in AIRTABLE_TYPES:
            return True
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            if _names_airtable_type(ast.parse(part.value, mode="eval").body):
                return True
    return False


def find_writes(source: str, module: str = "snippet.py") -> list[Violation]:
    """The calls in `source` that could change Airtable outside the write pipeline."""
    finder = _WriteFinder(module)
    finder.visit(ast.parse(source))
    return finder.found


def package_writes() -> list[Violation]:
    """Every such call in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        found += find_writes(path.read_text(encoding="utf-8"), module)
    return found


# --- the package ------------------------------------------------------------------------


def test_no_airtable_write_is_sent_outside_the_write_pipeline() -> None:
    found = package_writes()
    assert not found, "Airtable writes outside StepWriter:\n" + "\n".join(map(str, found))


def test_the_allowed_places_exist() -> None:
    # A renamed class or method must be renamed here too, not silently leave a gap.
    defined = set()
    for module, owner, _method in ALLOWED:
        tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == owner:
                defined |= {(module, owner, "*")} | {
                    (module, owner, item.name)
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                }
    assert ALLOWED <= defined


# --- the checker ------------------------------------------------------------------------


def test_pyairtable_write_methods_are_read_from_pyairtable() -> None:
    writers = pyairtable_write_methods()
    expected = {"create", "batch_create", "update", "batch_update", "batch_upsert", "delete"}
    expected |= {"batch_delete", "add_comment", "create_table", "create_field", "save"}
    assert expected <= writers
    assert not {"all", "first", "get", "iterate", "schema", "whoami", "bases"} & writers


@pytest.mark.parametrize(
    "source",
    [
        'client.request("POST", base_id, table_id, json=body)',
        'ctx.client.request("patch", *parts)',
        "client.request(method, *parts)",
        'client.api.request("delete", url)',
        'client.api.iterate_requests(method="post", url=url)',
        "client.table(base_id, table_id).batch_create(rows)",
        "client.table(base_id, table_id).update(record_id, fields)",
        "table = client.table(base_id, table_id)\ntable.delete(record_id)",
        "for comment in client.table(b, t).comments(r):\n    comment.delete()",
        "client.base(base_id).create_table(name, fields)",
        "client.base(base_id).schema().table(t).create_field(name, kind)",
        "record.batch_upsert(rows, key_fields=['Name'])",
        "client.table(base_id, table_id).upload_attachment(record_id, field, path)",
        "client.base(base_id).schema().table(t).save()",
        "client.api.patch(url, json=body)",
        "requests.post(url, json=body)",
        "httpx.delete(url)",
        "def f(table: Table):\n    table.delete('rec1')",
    ],
)
def test_the_checker_finds_a_write(source: str) -> None:
    body = "\n".join("    " + line for line in source.splitlines())
    assert find_writes(f"def tool(ctx, client, base_id, table_id, rows):\n{body}\n")


@pytest.mark.parametrize(
    "source",
    [
        'client.request("GET", base_id, table_id, record_id)',
        'ctx.client.request("get", "meta", "bases", params=params)',
        "client.iterate_records(base_id, table_id, formula=formula)",
        "client.table(base_id, table_id).all()",
        "session.delete(row)",
        "values.update(more)",
        "seen.add(record_id)",
        "cache.delete(base_id)",
        "writes.create_table(ctx, args)",
        "httpx.get(url)",
        "workbook.save(buffer)",
        'rx.upload(rx.text("Drop a file"), id="import_file")',
        "def f(schema: TableSchema, state: BaseState):\n    schema.update(x)\n    state.update(y)",
    ],
)
def test_the_checker_lets_reads_and_other_objects_be(source: str) -> None:
    body = "\n".join("    " + line for line in source.splitlines())
    assert find_writes(f"def tool(ctx, client, session, base_id, table_id):\n{body}\n") == []


def test_the_write_pipeline_itself_may_write() -> None:
    source = (
        "class StepWriter:\n"
        "    def _request(self, request):\n"
        "        return self.client.request(request.method, *request.components)\n"
    )
    assert find_writes(source, "actions/steps.py") == []
    assert find_writes(source, "tools/writes.py")
