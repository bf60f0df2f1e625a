# Names vulture (scripts/lint.sh) takes as used although no line of pyairtable_ui reads them.
# vulture only parses this file. Each name is listed for a reason a framework or a reader
# outside the code gives; anything else vulture finds is code nothing in the product calls:
# delete it (with its tests) or wire it in, do not add it here.

# --- called by frameworks -------------------------------------------------------------
# The emulator's HTTP handler calls `control` for /_emulator/ paths (sample/host.py SampleHost).
_.control
# Reflex calls a middleware's `preprocess` before each event.
_.preprocess  # state/auth.py SignedOutStateMiddleware, state/event_metrics.py
# SQLAlchemy's TypeDecorator API (core/db.py UTCDateTime).
impl
cache_ok
_.process_bind_param
_.process_result_value
# pydantic-settings: the class's configuration and its validators (core/settings.py).
model_config
_._split_models
_._split_previous_keys
_._split_hosts
_._refuse_default_secret
# pydantic runs a model's validators when it is built (actions/plan.py RecordOperation).
_._has_what_its_op_needs
# Python passes the exception to `__aexit__` (llm/client.py ReplyStream closes either way).
exc_type
traceback
# litellm's module switches (llm/loading.py).
_.telemetry
_.suppress_debug_info

# --- columns kept for the record: written by the app, read by operators in SQL -----------
source  # Action.source: chat, import, schedule
checked_at  # AirtableConnection.checked_at
last_login_at  # User.last_login_at
updated_by  # InstanceSetting.updated_by
invited_by  # Invite.invited_by

# --- keys of TypedDicts that pages read as `row["key"]` or that go out in JSON exports -----
approved_by  # actions/history.py HistoryRow (CSV and JSON exports)
airtable_requests  # actions/history.py ActionDetails (the JSON export)
filename  # actions/preview.py AttachmentCopy
size  # actions/preview.py AttachmentCopy
unchanged  # actions/preview.py PreviewRow, PreviewCounts
blocked  # actions/preview.py PreviewRow, PreviewCounts; state/actions.py
attachments  # actions/preview.py PreviewRow
create  # actions/preview.py PreviewCounts
version  # actions/preview.py ActionPreview
proposed_again  # actions/approval.py ChangedRows
conflict  # actions/undo.py UndoCell, UndoRow; actions/rows.py UndoItem
current_name  # actions/undo.py RenameSuggestion
suggested_name  # actions/undo.py RenameSuggestion
rename_suggestion  # actions/undo.py UndoPlan
updated  # pages/chat/rows.py ConversationItem
first_in_group  # pages/chat/rows.py ConversationItem (page.py reads it by key)
device  # account/flows.py SessionRow
last_used  # account/flows.py SessionRow
ok  # llm/probe.py ModelTestRow (pages/admin.py colours the result)
active_users  # analytics/flows.py DayRow (the charts read keys by name)
error_rate  # analytics/flows.py DayRow
p50_ms  # analytics/flows.py DayRow
p95_ms  # analytics/flows.py DayRow
rejected  # analytics/flows.py DayRow, TotalsRow
failed_actions  # analytics/flows.py DayRow, TotalsRow (filled from _COUNTS by name)
old_chips  # actions/rows.py ReviewCell (components/action_review.py reads it by key)
new_chips  # actions/rows.py ReviewCell
all_fields  # pages/automations.py TableItem (the export_fields var reads it by key)
data_type  # automations/exports.py: openpyxl reads it when it writes the cell
failures  # schedules/flows.py ScheduleItem (pages/schedules.py reads it by key)
last_run  # schedules/flows.py ScheduleItem
scheduled  # actions/rows.py HistoryItem (pages/history.py reads it by key)

# --- a test hook ---------------------------------------------------------------------------
clear_caches  # auth/oidc.py: tests forget discovered providers between fake issuers
listener  # chat/turns.py TurnRegistry: tests wait until it has subscribed to the Stop channel
