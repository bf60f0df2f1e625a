"""The review of one action: preview with ticks, typed confirmation, progress, undo."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars.base import VarData

from pyairtable_ui.components.forms import LABEL_STYLE, form_error, form_notice
from pyairtable_ui.components.record_link import record_link
from pyairtable_ui.state.actions import ActionsState

# The line between two rows of one of the dialog's lists.
_ROW_BORDER = f"1px solid {rx.color('gray', 4)}"


def _scrolling_list(
    items: Any, render: Any, *, max_height: str, hide_while_working: bool = False
) -> rx.Component:
    """One of the dialog's lists: full width, scrolling inside once taller than `max_height`.

    `hide_while_working`: the rows of a write or undo are not drawn while it runs; each
    progress line would draw them all again (thousands for an import), and the browser
    would fall behind the run instead of showing how it ends.
    """
    rows = rx.foreach(items, render)
    if hide_while_working:
        rows = rx.cond(ActionsState.working, rx.fragment(), rows)
    return rx.box(rows, max_height=max_height, overflow_y="auto", width="100%")


def _choice(value: str, text: str) -> rx.Component:
    """One labelled option of a radio group."""
    return rx.el.label(
        rx.radio_group.item(value=value), text, style={"display": "flex", "gap": "6px"}
    )


def _review_button(action: Any) -> rx.Component:
    """Opens the action in the review dialog: "Review" while it waits, "Open" after."""
    return rx.button(
        rx.cond(action["pending"], "Review", "Open"),
        size="1",
        variant=rx.cond(action["pending"], "solid", "soft"),
        on_click=ActionsState.review(action["id"]),
        aria_label=rx.cond(action["pending"], "Review action ", "Open action ")
        + action["id"].to_string(),
        width="fit-content",
    )


def action_card(action: Any) -> rx.Component:
    """An action in the sidebar; opens its review."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("#", action["id"], size="1", color_scheme="gray"),
                rx.text(action["tool"], size="1", font_family="monospace"),
                rx.spacer(),
                rx.badge(action["word"]),
                width="100%",
            ),
            rx.text(action["summary"], size="2"),
            rx.cond(action["error"] != "", rx.text(action["error"], size="1", color_scheme="red")),
            _review_button(action),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="action-card",
        data_status=action["status"],
    )


def proposal_card(action: Any) -> rx.Component:
    """An action in the conversation, under the step that proposed it.

    One sentence (its summary), where it stands in words that follow it live
    (`ActionItem.state`, the same words as the sidebar and the dialog), and the
    button that opens the one review dialog.
    """
    return rx.card(
        rx.hstack(
            rx.icon("file-pen-line", size=16, color=rx.color("accent", 10), flex_shrink="0"),
            rx.vstack(
                rx.text(action["summary"], size="2", weight="medium"),
                rx.text(
                    action["state"],
                    size="1",
                    color_scheme=rx.cond(action["pending"], "orange", "gray"),
                    class_name="proposal-state",
                    role="status",
                ),
                _review_button(action),
                spacing="1",
                min_width="0",
            ),
            spacing="2",
            align="start",
        ),
        class_name="proposal-card",
        data_status=action["status"],
        size="1",
        max_width="min(100%, 520px)",
        margin_y="4px",
    )


def local_time(value: Any, view: Any) -> rx.Var[str]:
    """A date (`view` "date") or a moment ("datetime") in the reader's locale and time zone.

    Formatted in the browser (Intl), so "2024-06-01" reads "Jun 1, 2024" or "1 juin
    2024" as the reader's browser says dates, and a moment in their own time zone. A
    date has no zone: it is read as that day wherever the reader is. Anything that is
    not a date is shown as it is.
    """
    return rx.Var(
        _js_expr=(
            "((v, k) => { const d = new Date(k === 'date' ? v + 'T00:00:00Z' : v); "
            "if (!v || isNaN(d.getTime())) return v; "
            "return k === 'date' "
            "? d.toLocaleDateString(undefined, {dateStyle: 'medium', timeZone: 'UTC'}) "
            ": d.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'}); "
            f"}})({value._js_expr}, {view._js_expr})"
        ),
        _var_type=str,
        _var_data=VarData.merge(value._get_all_var_data(), view._get_all_var_data()),
    )


def _cell_value(cell: Any, side: str) -> rx.Component:
    """One side (old or new) of a cell: chips for select options, dates localised, text."""
    text = cell[side]
    chips = cell["old_chips"] if side == "old" else cell["new_chips"]
    return rx.match(
        cell["view"],
        (
            "chips",
            rx.cond(
                chips.length() > 0,
                rx.hstack(
                    rx.foreach(
                        chips,
                        lambda chip: rx.badge(chip, size="1", variant="soft", class_name="chip"),
                    ),
                    spacing="1",
                    wrap="wrap",
                    display="inline-flex",
                ),
                rx.text.span("(empty)"),
            ),
        ),
        ("date", rx.text.span(local_time(text, cell["view"]), class_name="local-time")),
        ("datetime", rx.text.span(local_time(text, cell["view"]), class_name="local-time")),
        rx.text.span(text),
    )


def _old(cell: Any) -> rx.Component:
    return rx.box(
        _cell_value(cell, "old"),
        class_name="old-value",
        display="inline-flex",
        text_decoration="line-through",
        color=rx.color("gray", 10),
    )


def _new(cell: Any) -> rx.Component:
    return rx.box(
        _cell_value(cell, "new"),
        class_name="new-value",
        display="inline-flex",
        background_color=rx.color("grass", 3),
        color=rx.color("grass", 12),
        padding_x="4px",
        border_radius="4px",
    )


def _review_cell(cell: Any) -> rx.Component:
    """A field of a review row: old struck through → new highlighted (or one of them)."""
    return rx.hstack(
        rx.text(cell["field"], ":", size="1", weight="medium"),
        rx.match(
            cell["shows"],
            ("old", _old(cell)),
            ("new", _new(cell)),
            rx.fragment(_old(cell), rx.text("→", size="1", aria_hidden="true"), _new(cell)),
        ),
        class_name="review-cell",
        spacing="2",
        align="center",
        wrap="wrap",
        font_size="12px",
    )


def _review_row(row: Any) -> rx.Component:
    return rx.hstack(
        rx.checkbox(
            checked=row["ticked"],
            disabled=row["blocked"],
            on_change=lambda _: ActionsState.toggle_row(row["row_id"]),
            aria_label="Include " + row["label"],
        ),
        rx.vstack(
            rx.hstack(
                rx.badge(row["kind"], size="1"),
                record_link(row["label"], row["url"], weight="medium", size="2"),
                rx.text(row["record_id"], size="1", color_scheme="gray", font_family="monospace"),
                wrap="wrap",
                align="center",
            ),
            rx.cond(
                row["cells"].length() > 0,
                rx.foreach(row["cells"], _review_cell),
                rx.text("no change", size="1", color_scheme="gray"),
            ),
            rx.cond(
                row["warnings"] != "", rx.text(row["warnings"], size="1", color_scheme="orange")
            ),
            spacing="1",
            min_width="0",
        ),
        class_name="review-row",
        align="start",
        width="100%",
        padding_y="6px",
        border_bottom=_ROW_BORDER,
    )


def _undo_row(row: Any) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.badge(row["effect"], size="1"),
            rx.text(row["label"], weight="medium", size="2"),
            rx.cond(row["conflict"], rx.badge("changed since", color_scheme="orange")),
            rx.cond(row["missing"], rx.badge("no longer exists", color_scheme="red")),
            wrap="wrap",
        ),
        rx.foreach(row["cells"], lambda c: rx.text(c, size="1")),
        rx.cond(row["note"] != "", rx.text(row["note"], size="1", color_scheme="gray")),
        rx.cond(
            row["conflict"],
            rx.radio_group.root(
                rx.hstack(
                    _choice("overwrite", " Overwrite with the old values"),
                    _choice("skip", " Leave this record as it is"),
                    spacing="4",
                    wrap="wrap",
                ),
                value=row["choice"],
                on_change=lambda value: ActionsState.set_choice(row["row_id"], value),
                aria_label="Undo choice for " + row["label"],
            ),
        ),
        class_name="undo-row",
        spacing="1",
        width="100%",
        padding_y="6px",
        border_bottom=_ROW_BORDER,
    )


def _changed_row(row: Any) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(row["label"], weight="medium", size="2"),
            rx.text(row["record_id"], size="1", color_scheme="gray", font_family="monospace"),
            rx.badge("changed since you reviewed", color_scheme="orange", size="1"),
            wrap="wrap",
            align="center",
        ),
        rx.foreach(row["cells"], lambda c: rx.text(c, size="1")),
        rx.text(row["note"], size="1", color_scheme="gray"),
        class_name="changed-row",
        spacing="1",
        width="100%",
        padding_y="4px",
    )


def _changed_since_review(also: Any = None) -> rx.Component:
    """Rows left unwritten because someone changed them after the review."""
    return rx.vstack(
        rx.hstack(
            rx.icon("triangle-alert", size=16, color=rx.color("orange", 11)),
            rx.text(ActionsState.changed_summary, size="2", weight="medium"),
            align="start",
        ),
        _scrolling_list(ActionsState.changed_rows, _changed_row, max_height="30vh"),
        rx.cond(
            ~ActionsState.working,
            rx.button(
                "Review them again",
                size="2",
                variant="soft",
                color_scheme="orange",
                on_click=[ActionsState.review_again, also]
                if also is not None
                else ActionsState.review_again,
            ),
        ),
        id="changed-since-review",
        role="status",
        spacing="2",
        width="100%",
        padding="10px",
        border_radius="8px",
        background=rx.color("orange", 3),
    )


def _candidate_row(row: Any) -> rx.Component:
    return rx.hstack(
        rx.cond(
            row["likely"],
            rx.badge("matches the batch", size="1", color_scheme="orange"),
            rx.badge("other", size="1", color_scheme="gray"),
        ),
        rx.text(row["record_id"], size="1", font_family="monospace"),
        rx.text(row["created"], size="1", color_scheme="gray"),
        rx.text(row["values"], size="1"),
        class_name="candidate-row",
        wrap="wrap",
        width="100%",
        padding_y="4px",
        border_bottom=_ROW_BORDER,
    )


def _question_panel() -> rx.Component:
    """A batch Airtable cannot settle: the records in question and the user's choices."""
    forward = ActionsState.question_kind == "apply"
    return rx.vstack(
        rx.heading("Was this batch applied?", size="3", as_="h2"),
        rx.text(
            "The server stopped without recording Airtable's answer, and the records "
            "created in the table since do not settle it. Compare them with the batch, "
            "in Airtable if needed, then choose.",
            size="2",
        ),
        rx.text("The batch was to create:", size="1", weight="medium"),
        _scrolling_list(
            ActionsState.question_sent, lambda line: rx.text(line, size="1"), max_height="20vh"
        ),
        rx.text("Records created in the table since it was sent:", size="1", weight="medium"),
        _scrolling_list(ActionsState.question_rows, _candidate_row, max_height="25vh"),
        rx.hstack(
            rx.cond(
                forward,
                rx.button(
                    "It was applied: don't send it again",
                    on_click=ActionsState.answer_question("applied"),
                ),
            ),
            rx.cond(
                forward,
                rx.button(
                    "It was not applied: send it again",
                    variant="soft",
                    on_click=ActionsState.answer_question("send_again"),
                ),
            ),
            rx.button(
                "Roll back anyway",
                color_scheme="red",
                variant="soft",
                on_click=ActionsState.answer_question("rollback_anyway"),
            ),
            spacing="3",
            wrap="wrap",
        ),
        rx.cond(
            forward,
            rx.text(
                "Roll back anyway puts back the batches that are known to be applied and "
                "leaves the records above as they are.",
                size="1",
                color_scheme="gray",
            ),
        ),
        class_name="batch-question",
        spacing="2",
        width="100%",
    )


def _pending_panel() -> rx.Component:
    return rx.vstack(
        rx.text(ActionsState.counts, size="2", color_scheme="gray"),
        rx.foreach(
            ActionsState.warnings,
            lambda w: rx.callout(w, icon="triangle-alert", color_scheme="orange", size="1"),
        ),
        rx.foreach(ActionsState.notes, lambda n: rx.text(n, size="1", color_scheme="gray")),
        rx.hstack(
            rx.button("Tick all", size="1", variant="ghost", on_click=ActionsState.set_all(True)),
            rx.button(
                "Untick all", size="1", variant="ghost", on_click=ActionsState.set_all(False)
            ),
        ),
        _scrolling_list(ActionsState.rows, _review_row, max_height="45vh", hide_while_working=True),
        rx.form(
            rx.vstack(
                rx.cond(
                    ActionsState.needs_typed,
                    rx.vstack(
                        rx.el.label(
                            "Type the number of records to confirm (",
                            ActionsState.ticked_count,
                            ")",
                            html_for="typed-count",
                            style=LABEL_STYLE,
                        ),
                        rx.input(
                            id="typed-count",
                            name="typed_count",
                            inputmode="numeric",
                            auto_complete="off",
                            width="140px",
                        ),
                        spacing="1",
                    ),
                ),
                rx.hstack(
                    rx.cond(
                        ActionsState.stale,
                        rx.button(
                            "Refresh the preview",
                            type="button",
                            on_click=ActionsState.review(ActionsState.action_id),
                            loading=ActionsState.working,
                        ),
                    ),
                    rx.button(
                        "Confirm ",
                        ActionsState.ticked_count,
                        " records",
                        type="submit",
                        loading=ActionsState.working,
                        disabled=(ActionsState.ticked_count == 0) | ActionsState.stale,
                    ),
                    rx.button(
                        "Reject",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=ActionsState.reject,
                        disabled=ActionsState.working,
                    ),
                    spacing="3",
                ),
                spacing="3",
            ),
            on_submit=ActionsState.approve,
            reset_on_submit=False,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def action_controls(*, on_review_again: Any = None) -> rx.Component:
    """Status, progress, errors and the buttons that fit the action's state.

    Args:
        on_review_again: Another event to fire with "Review them again" (a page
            closing its own dialog before the review dialog opens).
    """
    return rx.vstack(
        rx.hstack(
            rx.badge(
                ActionsState.word, size="2", id="action-status", data_status=ActionsState.status
            ),
            rx.cond(
                ActionsState.undo_word != "",
                rx.text(ActionsState.undo_word, size="1", color_scheme="gray", id="undo-word"),
            ),
            rx.cond(ActionsState.working, rx.spinner(size="1")),
            rx.text(ActionsState.progress, size="1", color_scheme="gray", id="action-progress"),
            align="center",
            wrap="wrap",
        ),
        form_error(ActionsState.error, size="1"),
        form_notice(ActionsState.notice, size="1"),
        rx.cond(ActionsState.changed_rows.length() > 0, _changed_since_review(on_review_again)),
        rx.cond(
            ActionsState.recoverable & ~ActionsState.working & (ActionsState.question_step != 0),
            _question_panel(),
        ),
        rx.cond(
            ActionsState.recoverable & ~ActionsState.working & (ActionsState.question_step == 0),
            rx.hstack(
                rx.button(
                    "Roll back", color_scheme="red", variant="soft", on_click=ActionsState.rollback
                ),
                rx.button("Resume", on_click=ActionsState.resume),
                spacing="3",
            ),
        ),
        rx.cond(
            ActionsState.undoable & ~ActionsState.undo_mode & ~ActionsState.working,
            rx.button("Undo…", variant="soft", on_click=ActionsState.plan_undo),
        ),
        rx.cond(
            ActionsState.undo_mode,
            rx.vstack(
                rx.text(ActionsState.undo_message, size="2"),
                rx.foreach(
                    ActionsState.undo_notes, lambda n: rx.text(n, size="1", color_scheme="gray")
                ),
                _scrolling_list(
                    ActionsState.undo_rows, _undo_row, max_height="40vh", hide_while_working=True
                ),
                rx.cond(
                    ActionsState.undo_possible,
                    rx.button(
                        "Undo this action",
                        color_scheme="red",
                        on_click=ActionsState.confirm_undo,
                        loading=ActionsState.working,
                    ),
                ),
                # A created table or field cannot be undone: a rename is offered instead.
                rx.cond(
                    ActionsState.undo_rename != "",
                    rx.button(
                        ActionsState.undo_rename,
                        variant="soft",
                        on_click=ActionsState.rename_instead,
                        loading=ActionsState.working,
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
    )


def review_dialog() -> rx.Component:
    """The dialog that reviews, runs, recovers or undoes one action."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(ActionsState.title),
            rx.vstack(
                action_controls(),
                rx.cond(ActionsState.pending & (ActionsState.rows.length() > 0), _pending_panel()),
                rx.cond(
                    ActionsState.pending & ActionsState.working & (ActionsState.rows.length() == 0),
                    rx.hstack(rx.spinner(), rx.text("Reading the current values…")),
                ),
                rx.dialog.close(rx.button("Close", variant="ghost", disabled=ActionsState.working)),
                spacing="3",
                width="100%",
            ),
            max_width="760px",
            width="96vw",
        ),
        open=ActionsState.open,
        on_open_change=ActionsState.set_open,
    )
