"""Type guessing per column, and each cell converted as its field takes it."""

from __future__ import annotations

import pytest

from pyairtable_ui.automations.guess import convert, guess_column


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2,500", "-3.25"], "number"),
        (["$5.00", "$1,200", "-$3"], "currency"),
        (["12%", "3.5%", "100%"], "percent"),
        (["2024-05-01", "2024-12-31"], "date"),
        (["03/04/2024", "12/31/2024"], "date"),
        (["2024-05-01T09:30:00Z", "2024-05-02 10:00"], "dateTime"),
        (["yes", "no", "", "Yes"], "checkbox"),
        (["a@example.com", "b.c@example.org"], "email"),
        (["https://example.com/x", "www.example.org"], "url"),
        (["+1 (555) 010-2000", "555 010 3000"], "phoneNumber"),
        (["Open", "Closed", "Open", "Open", "Closed", "Open"], "singleSelect"),
        (["red, blue", "blue", "red, green", "green, blue"], "multipleSelects"),
        (["line one\nline two", "short"], "multilineText"),
        (["Ann", "Bob", "Cy"], "singleLineText"),
        (["", " "], "singleLineText"),
    ],
)
def test_a_column_gets_the_type_its_values_fit(values, expected):
    assert guess_column(values).type == expected


def test_select_guess_keeps_its_options_in_order():
    guess = guess_column(["Open", "Closed", "Open", "Waiting", "Closed", "Open"])
    assert guess.options == ["Open", "Closed", "Waiting"]


def test_day_first_dates_are_seen_when_a_day_is_over_12():
    guess = guess_column(["03/04/2024", "25/12/2024"])
    assert (guess.type, guess.date_order) == ("date", "dmy")
    assert convert("03/04/2024", "date", date_order="dmy") == ("2024-04-03", None)
    assert convert("03/04/2024", "date", date_order="mdy") == ("2024-03-04", None)


def test_a_column_named_like_a_table_links_to_it():
    guess = guess_column(["Write copy"], header="Tasks", table_names=["Projects", "Tasks"])
    assert guess.type == "multipleRecordLinks"
    assert guess_column(["x"], header="Task", table_names=["Tasks"]).type == "multipleRecordLinks"


def test_a_mix_that_fits_nothing_narrower_is_text():
    assert guess_column(["1", "two", "2024-01-01"]).type == "singleLineText"


@pytest.mark.parametrize(
    ("text", "field_type", "options", "expected"),
    [
        ("1,200.50", "number", {}, (1200.5, None)),
        ("42", "number", {}, (42, None)),
        ("$5", "currency", {}, (5, None)),
        ("12.5%", "percent", {}, (0.125, None)),
        ("yes", "checkbox", {}, (True, None)),
        ("", "checkbox", {}, (False, None)),
        ("2024-05-01 09:30", "dateTime", {}, ("2024-05-01T09:30:00.000Z", None)),
        ("2024-05-01T09:30:00+02:00", "dateTime", {}, ("2024-05-01T07:30:00.000Z", None)),
        ("1 May 2024", "date", {}, ("2024-05-01", None)),
        ("active", "singleSelect", {"choices": ["Active", "Done"]}, ("Active", None)),
        ("a, B", "multipleSelects", {"choices": ["A", "B"]}, (["A", "B"], None)),
        ("  keep spacing ", "singleLineText", {}, ("  keep spacing ", None)),
        ("=HYPERLINK(1)", "singleLineText", {}, ("=HYPERLINK(1)", None)),
        ("", "number", {}, (None, None)),
    ],
)
def test_cells_convert_to_what_the_field_takes(text, field_type, options, expected):
    assert convert(text, field_type, **options) == expected


@pytest.mark.parametrize(
    ("text", "field_type", "options", "problem"),
    [
        ("abc", "number", {}, '"abc" is not a number'),
        ("maybe", "checkbox", {}, '"maybe" is not yes or no'),
        ("31/31/2024", "date", {}, '"31/31/2024" is not a date this column can read'),
        ("soon", "dateTime", {}, '"soon" is not a date and time this column can read'),
        ("Blocked", "singleSelect", {"choices": ["Active"]}, '"Blocked" is not an option'),
        ("A, Z", "multipleSelects", {"choices": ["A"]}, '"Z" is not an option'),
    ],
)
def test_cells_that_cannot_convert_say_why(text, field_type, options, problem):
    value, why = convert(text, field_type, **options)
    assert value is None
    assert why is not None and problem in why
