"""The formula language: every pyairtable.formulas construct, semantics, and filterByFormula."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import requests
from pyairtable import Api
from pyairtable import formulas as F

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.formula import (
    FormulaError,
    FormulaRuntimeError,
    compile_formula,
)
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, FIELD_IDS, contact_id, deal_id
from tests.emulator.conftest import RawClient, error_of

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
LAST_MODIFIED = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


class FakeRecord:
    """A formula context with a few fields, for evaluating formulas without a server."""

    record_id = "recTestTestTest01"
    created_time = CREATED
    now = NOW

    def __init__(self, fields: dict[str, Any] | None = None, values: list[Any] | None = None):
        self.fields = fields or {}
        self.values = values or []

    def field(self, field_id: str) -> Any:
        return self.fields.get(field_id)

    def last_modified(self, field_ids: Sequence[str]) -> datetime:
        return LAST_MODIFIED


def evaluate(formula: Any, fields: dict[str, Any] | None = None, values: list | None = None):
    """Compile ``formula`` (a string or a pyairtable Formula) and evaluate it."""
    fields = fields or {}
    compiled = compile_formula(
        str(formula), lambda name: name if name in fields else None, variables=["values"]
    )
    return compiled.evaluate(FakeRecord(fields, values))


# Every function and comparison pyairtable.formulas can build, with an example and its value.
PYAIRTABLE_EXAMPLES: dict[str, tuple[Any, Any]] = {
    "ABS": (F.ABS(-3), 3),
    "AVERAGE": (F.AVERAGE(1, 2, 6), 3),
    "BLANK": (F.BLANK(), None),
    "CEILING": (F.CEILING(4.2, 2), 6),
    "CONCATENATE": (F.CONCATENATE("a", "b", 1), "ab1"),
    "COUNT": (F.COUNT(1, "a", 2.5), 2),
    "COUNTA": (F.COUNTA(1, "", "a"), 2),
    "COUNTALL": (F.COUNTALL(1, "", "a"), 3),
    "CREATED_TIME": (F.CREATED_TIME(), CREATED),
    "DATEADD": (F.DATEADD(date(2024, 1, 31), 1, "months"), datetime(2024, 2, 29, tzinfo=UTC)),
    "DATESTR": (F.DATESTR(datetime(2024, 5, 6, 7, 8, 9)), "2024-05-06"),
    "DATETIME_DIFF": (F.DATETIME_DIFF(date(2024, 3, 1), date(2024, 1, 1), "days"), 60),
    "DATETIME_FORMAT": (F.DATETIME_FORMAT(date(2024, 3, 1), "DD/MM/YYYY"), "01/03/2024"),
    "DATETIME_PARSE": (
        F.DATETIME_PARSE("05.03.2024 14:30", "DD.MM.YYYY HH:mm"),
        datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
    ),
    "DAY": (F.DAY(date(2024, 3, 7)), 7),
    "ENCODE_URL_COMPONENT": (F.ENCODE_URL_COMPONENT("a b&c"), "a%20b%26c"),
    "ERROR": (F.ERROR(), FormulaRuntimeError),
    "EVEN": (F.EVEN(3), 4),
    "EXP": (F.EXP(0), 1),
    "FALSE": (F.FALSE(), False),
    "FIND": (F.FIND("lo", "hello"), 4),
    "FLOOR": (F.FLOOR(4.8), 4),
    "FROMNOW": (F.FROMNOW(date(2024, 6, 20)), 4),
    "HOUR": (F.HOUR(datetime(2024, 1, 1, 13, 5)), 13),
    "IF": (F.IF(F.GT(2, 1), "yes", "no"), "yes"),
    "INT": (F.INT(-2.5), -3),
    "ISERROR": (F.ISERROR(F.ERROR()), True),
    "IS_AFTER": (F.IS_AFTER(date(2024, 2, 1), date(2024, 1, 1)), True),
    "IS_BEFORE": (F.IS_BEFORE(date(2024, 2, 1), date(2024, 1, 1)), False),
    "IS_SAME": (F.IS_SAME(date(2024, 2, 1), datetime(2024, 2, 1, 18, 0), "day"), True),
    "LAST_MODIFIED_TIME": (F.LAST_MODIFIED_TIME(), LAST_MODIFIED),
    "LEFT": (F.LEFT("hello", 2), "he"),
    "LEN": (F.LEN("hello"), 5),
    "LOG": (F.LOG(100), 2),
    "LOWER": (F.LOWER("HeLLo"), "hello"),
    "MAX": (F.MAX(1, 5, 3), 5),
    "MID": (F.MID("hello", 2, 3), "ell"),
    "MIN": (F.MIN(4, 2, 9), 2),
    "MINUTE": (F.MINUTE(datetime(2024, 1, 1, 13, 5)), 5),
    "MOD": (F.MOD(7, 3), 1),
    "MONTH": (F.MONTH(date(2024, 3, 7)), 3),
    "NOW": (F.NOW(), NOW),
    "ODD": (F.ODD(2), 3),
    "POWER": (F.POWER(2, 10), 1024),
    "RECORD_ID": (F.RECORD_ID(), "recTestTestTest01"),
    "REGEX_EXTRACT": (F.REGEX_EXTRACT("order 123", "[0-9]+"), "123"),
    "REGEX_MATCH": (F.REGEX_MATCH("abc", "^a"), True),
    "REGEX_REPLACE": (F.REGEX_REPLACE("a-b-c", "-", "+"), "a+b+c"),
    "REPLACE": (F.REPLACE("hello", 2, 3, "ipp"), "hippo"),
    "REPT": (F.REPT("ab", 3), "ababab"),
    "RIGHT": (F.RIGHT("hello", 3), "llo"),
    "ROUND": (F.ROUND(2.345, 2), 2.35),
    "ROUNDDOWN": (F.ROUNDDOWN(2.789, 1), 2.7),
    "ROUNDUP": (F.ROUNDUP(2.712, 1), 2.8),
    "SEARCH": (F.SEARCH("z", "hello"), None),
    "SECOND": (F.SECOND(datetime(2024, 1, 1, 13, 5, 9)), 9),
    "SET_LOCALE": (F.SET_LOCALE(date(2024, 3, 1), "fr"), datetime(2024, 3, 1, tzinfo=UTC)),
    "SET_TIMEZONE": (
        F.DATETIME_FORMAT(F.SET_TIMEZONE(datetime(2024, 1, 1, 12), "America/New_York"), "HH:mm"),
        "07:00",
    ),
    "SQRT": (F.SQRT(16), 4),
    "SUBSTITUTE": (F.SUBSTITUTE("a-b-c", "-", "+", 2), "a-b+c"),
    "SUM": (F.SUM(1, 2, 3.5), 6.5),
    "SWITCH": (F.SWITCH("b", "a", 1, "b", 2, 0), 2),
    "T": (F.T(1), None),
    "TIMESTR": (F.TIMESTR(datetime(2024, 1, 1, 13, 5, 9)), "13:05:09"),
    "TODAY": (F.TODAY(), datetime(2024, 6, 15, tzinfo=UTC)),
    "TONOW": (F.TONOW(date(2024, 6, 10)), 5),
    "TRIM": (F.TRIM("  padded  "), "padded"),
    "TRUE": (F.TRUE(), True),
    "UPPER": (F.UPPER("abc"), "ABC"),
    "VALUE": (F.VALUE("$1,234.50"), 1234.5),
    "WEEKDAY": (F.WEEKDAY(date(2024, 6, 15), "Monday"), 5),
    "WEEKNUM": (F.WEEKNUM(date(2024, 1, 7)), 2),
    "WORKDAY": (F.WORKDAY(date(2024, 6, 14), 1), datetime(2024, 6, 17, tzinfo=UTC)),
    "WORKDAY_DIFF": (F.WORKDAY_DIFF(date(2024, 6, 10), date(2024, 6, 16)), 5),
    "XOR": (F.XOR(True, False, False), True),
    "YEAR": (F.YEAR(date(2024, 3, 7)), 2024),
    "AND": (F.AND(F.EQ(1, 1), F.GT(3, 2)), True),
    "OR": (F.OR(F.EQ(1, 2), F.LT(3, 2)), False),
    "NOT": (F.NOT(F.EQ(1, 2)), True),
    "EQ": (F.EQ("a", "a"), True),
    "NE": (F.NE(1, 2), True),
    "GT": (F.GT(2, 1), True),
    "GTE": (F.GTE(2, 2), True),
    "LT": (F.LT(date(2024, 1, 1), date(2024, 1, 2)), True),
    "LTE": (F.LTE(3, 2), False),
}


def test_every_pyairtable_formula_builder_has_an_example():
    builders = {
        name
        for name, obj in vars(F).items()
        if name.isupper() and callable(obj) and not name.startswith("_")
    }
    assert builders - set(PYAIRTABLE_EXAMPLES) == set()


@pytest.mark.parametrize("name", sorted(PYAIRTABLE_EXAMPLES))
def test_pyairtable_builder_evaluates(name: str):
    formula, expected = PYAIRTABLE_EXAMPLES[name]
    if expected is FormulaRuntimeError:
        with pytest.raises(FormulaRuntimeError):
            evaluate(formula)
    else:
        assert evaluate(formula) == expected


def test_every_pyairtable_builder_is_accepted_as_filter(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    for formula, _ in PYAIRTABLE_EXAMPLES.values():
        table.all(formula=formula, max_records=1)  # a 422 would raise
    assert airtable_emulator.stats()["by_status"] == {"200": len(PYAIRTABLE_EXAMPLES)}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        (F.match({"Name": "Jane's \\ pal"}), True),
        (F.EQ(F.Field("Done"), True), True),
        (F.EQ(F.Field("When"), datetime(2023, 12, 1, 12, 34, 56)), True),
        (F.EQ(F.Field("Day"), date(2023, 12, 1)), True),
        (F.GT(F.Field("Amount"), Decimal("3.14159")), True),
        (F.LT(F.Field("Amount"), Fraction(41, 10)), True),
        (F.match({"Amount": (">=", 4)}, match_any=True), True),
        (F.Field("Done") & F.Field("Amount"), True),
        (F.Field("Done") | F.EQ(1, 2), True),
        (~F.Field("Done"), False),
        (F.Field("Done") ^ F.Field("Done"), False),
        (F.AND(F.EQ(F.Field("Amount"), 4), Done=True), True),
        (F.NOT(Name="Bob"), True),
        (F.EQ(F.EQ(1, 1), F.TRUE()), True),
    ],
)
def test_pyairtable_field_references_and_values(formula: Any, expected: Any):
    fields = {
        "Name": "Jane's \\ pal",
        "Done": True,
        "When": datetime(2023, 12, 1, 12, 34, 56, tzinfo=UTC),
        "Day": datetime(2023, 12, 1, tzinfo=UTC),
        "Amount": 4,
    }
    assert evaluate(formula, fields) == expected


def test_field_name_with_closing_brace():
    assert evaluate(F.EQ(F.Field("Cost } (USD)"), 3), {"Cost } (USD)": 3}) is True


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("-2 * 3", -6),
        ("10 / 4", 2.5),
        ("'a' & 1 + 2", "a3"),
        ("1 + 2 = 3", True),
        ("1 <> 2", True),
        ("1e3 + .5", 1000.5),
        ('\'it\\\'s \' & "a \\"b\\""', 'it\'s a "b"'),
        ("lower('ABC')", "abc"),
        ("TRUE() + TRUE()", 2),
        ("BLANK() = 0", True),
        ("BLANK() = ''", True),
        ("'1' = 1", True),
        ("'abc' = 'ABC'", False),
        ("'b' > 'a'", True),
        ("'2024-01-01' = DATETIME_PARSE('2024-01-01')", True),
        ("IF(0, 'y', 'n')", "n"),
        ("IF('', 'y')", None),
        ("AND('text', 1, TRUE())", True),
        ("OR(BLANK(), 0, '')", False),
        ("ISERROR(1 / 0)", True),
        ("ISERROR('a' * 2)", True),
        ("ISERROR(SQRT(-1))", True),
        ("IF(ISERROR(VALUE('x')), 'bad', 'ok')", "bad"),
        ("ROUND(-2.5, 0)", -2),
        ("ROUND(1234.5678, -2)", 1200),
        ("MOD(-3, 2)", 1),
        ("FIND('l', 'hello', 4)", 4),
        ("FIND('z', 'hello')", 0),
        ("SEARCH('l', 'hello')", 3),
        ("LEFT(BLANK(), 2)", ""),
        ("LEN(12345)", 5),
        ("DATETIME_DIFF('2024-03-01', '2024-01-15', 'months')", 1),
        ("DATETIME_DIFF('2024-01-01T10:00:00Z', '2024-01-01T08:30:00Z', 'minutes')", 90),
        ("DATETIME_DIFF('2024-01-01', '2025-01-01', 'years')", -1),
        ("DATETIME_DIFF('2024-01-02', '2024-01-01')", 86400),
        ("DATETIME_FORMAT('2024-07-04T15:06:07Z', 'dddd, MMMM Do YYYY h:mm A')", None),
        ("DATETIME_FORMAT('2024-07-04', 'LL')", "July 4, 2024"),
        ("DATESTR(DATEADD('2024-01-01', 2, 'weeks'))", "2024-01-15"),
        ("IS_SAME('2024-01-01', '2024-01-31', 'month')", True),
        ("IS_SAME('2024-01-01', '2024-02-01', 'month')", False),
        ("ARRAYJOIN(values, '; ')", "a; b; a"),
        ("ARRAYJOIN(ARRAYUNIQUE(values))", "a, b"),
        ("COUNTA(ARRAYCOMPACT(values))", 3),
        ("ARRAYJOIN(ARRAYSLICE(values, 2))", "b, a"),
        ("COUNTALL(ARRAYFLATTEN(values))", 4),
        ("values = 'a, b, a'", True),
        ("REGEX_REPLACE('John Smith', '(\\\\w+) (\\\\w+)', '$2, $1')", "Smith, John"),
    ],
)
def test_formula_semantics(formula: str, expected: Any):
    result = evaluate(formula, values=["a", "b", None, "a"])
    if expected is None and formula.startswith("DATETIME_FORMAT"):
        assert result == "Thursday, July 4th 2024 3:06 PM"
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("formula", "problem"),
    [
        ("{Nope} = 1", "Unknown field names: Nope"),
        ("AND(1, {Missing A}, {Missing B})", "Unknown field names: Missing A, Missing B"),
        ("FOO(1)", "Unknown function name: FOO"),
        ("AND(", "Invalid formula"),
        ("1 +", "Invalid formula"),
        ("IF(1)", "IF() does not accept 1 arguments"),
        ("'unterminated", "unterminated string"),
        ("{unterminated", "unterminated field reference"),
        ("1 == 1", "Invalid formula"),
        ("1 ; 2", "unexpected character"),
        ("LAST_MODIFIED_TIME('x')", "only accepts field names"),
    ],
)
def test_broken_formulas_name_the_problem(formula: str, problem: str):
    with pytest.raises(FormulaError) as caught:
        evaluate(formula)
    assert problem in str(caught.value)


# --- filterByFormula against the seed ---------------------------------------------------------


def filtered(api: Api, table: str, formula: Any) -> list[str]:
    return [r["id"] for r in api.table(BASE_CRM_ID, table).all(formula=formula)]


def contacts_ids(*numbers: int) -> list[str]:
    return [contact_id(n) for n in numbers]


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("{Company} = 'Acme Corp'", (1, 2)),  # a link compares by the linked primary value
        ("{Company Industry} = 'Finance'", (3, 7)),  # lookup
        ("FIND('VIP', {Tags})", (1, 3)),
        ("FIND('Newsletter', ARRAYJOIN({Tags}, ','))", (1, 5, 7)),
        ("AND({Score} >= 7, NOT({Role} = 'Sales'))", (1, 3)),
        ("{Score} = BLANK()", (7,)),
        ("{Score} < 5", (4, 7, 8)),  # blank counts as 0, as on Airtable
        ("AND({Last Contacted}, IS_BEFORE({Last Contacted}, '2024-02-01'))", (5, 6)),
        ("IS_AFTER({Last Contacted}, DATETIME_PARSE('2024-03-05'))", (3, 8)),
        ("{Label} = 'Alice Anders (Engineer)'", (1,)),
        ("RECORD_ID() = 'recContact0000003'", (3,)),
        ("{Contact No} > 6", (7, 8)),
        ("Score > 9", (3,)),  # a single-word field name needs no braces
        ("{" + FIELD_IDS["Contacts"]["Score"] + "} > 9", (3,)),  # field id reference
        ("1 / {Score} > 0.2", (4, 8)),  # division by blank is #ERROR! -> excluded
        ("LOWER(LEFT({Name}, 1)) = 'e'", (5,)),
        ("SEARCH('an', {Name})", (4, 5, 6)),  # case-sensitive: not "Anders"
        ("YEAR({Created}) = 2024", (1, 2, 3, 4, 5, 6, 7, 8)),
        ("", (1, 2, 3, 4, 5, 6, 7, 8)),
    ],
)
def test_filter_by_formula_on_contacts(airtable_api: Api, formula: str, expected: tuple):
    assert filtered(airtable_api, "Contacts", formula) == contacts_ids(*expected)


def test_filters_on_counts_rollups_formulas_and_collaborators(airtable_api: Api):
    companies = filtered(airtable_api, "Companies", "{Contact Count} = 2")
    assert companies == ["recCompany0000001", "recCompany0000002"]
    assert filtered(airtable_api, "Companies", "{Pipeline Value} > 20000") == [
        "recCompany0000001",
        "recCompany0000004",
    ]
    assert filtered(airtable_api, "Deals", "{Won}") == [deal_id(1), deal_id(6)]
    assert filtered(airtable_api, "Deals", "{Owner} = 'Alice Admin'") == [
        deal_id(1),
        deal_id(2),
        deal_id(6),
    ]


def test_filters_built_with_pyairtable(airtable_api: Api):
    assert filtered(airtable_api, "Deals", F.match({"Close Date": date(2024, 2, 1)})) == [
        deal_id(1)
    ]
    either = F.OR(F.EQ(F.Field("Stage"), "Won"), F.GTE(F.Field("Amount"), 30000))
    assert filtered(airtable_api, "Deals", either) == [deal_id(n) for n in (1, 2, 5, 6)]
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    created = contacts.create({"Name": "Siobhan O'Brien"})
    assert filtered(airtable_api, "Contacts", F.match({"Name": "Siobhan O'Brien"})) == [
        created["id"]
    ]


def test_field_name_with_brace_through_the_server(airtable_api: Api):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    table.create_field("Cost } (USD)", "number")
    record = table.create({"Name": "Brace", "Cost } (USD)": 12})
    assert filtered(airtable_api, "Contacts", F.EQ(F.Field("Cost } (USD)"), 12)) == [record["id"]]


@pytest.mark.parametrize(
    ("formula", "problem"),
    [
        ("{Nope} = 1", "Unknown field names: Nope"),
        ("AND({Name}", "Invalid formula"),
        ("ISBLANK({Name})", "Unknown function name: ISBLANK"),
    ],
)
def test_broken_filter_is_422_naming_the_problem(raw: RawClient, formula: str, problem: str):
    response = raw.get(f"/v0/{BASE_CRM_ID}/Contacts", params={"filterByFormula": formula})
    assert error_of(response) == (422, "INVALID_FILTER_BY_FORMULA")
    message = response.json()["error"]["message"]
    assert message.startswith("The formula for filtering records is invalid: ")
    assert problem in message


def test_broken_filter_raises_through_pyairtable(airtable_api: Api):
    with pytest.raises(requests.HTTPError) as caught:
        airtable_api.table(BASE_CRM_ID, "Contacts").all(formula="{Nope}")
    assert caught.value.response.status_code == 422
    assert "INVALID_FILTER_BY_FORMULA" in str(caught.value)


def test_renamed_field_changes_what_formulas_resolve(airtable_api: Api):
    schema = airtable_api.table(BASE_CRM_ID, "Contacts").schema()
    field = schema.field("Score")
    field.name = "Rating"
    field.save()
    assert filtered(airtable_api, "Contacts", "{Rating} > 9") == [contact_id(3)]
    with pytest.raises(requests.HTTPError):
        filtered(airtable_api, "Contacts", "{Score} > 9")
