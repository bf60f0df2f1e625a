"""Record comments and webhooks (create, list, payloads, notifications)."""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from pyairtable import Api
from pyairtable.models import WebhookNotification

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    FIELD_IDS,
    TABLE_CONTACTS_ID,
    TABLE_DEALS_ID,
    TOKEN_CRM_ONLY,
    USER_FULL_ID,
    USER_NO_BASES_ID,
    contact_id,
)
from tests.emulator.conftest import RawClient, error_of

TABLE_DATA = {"options": {"filters": {"dataTypes": ["tableData"]}}}


# --- comments -------------------------------------------------------------------------------------


def test_add_and_list_comments_newest_first(airtable_api: Api):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    first = table.add_comment(contact_id(1), "First note")
    second = table.add_comment(contact_id(1), f"Hey @[{USER_NO_BASES_ID}], look", first.id)
    assert re.fullmatch(r"com[A-Za-z0-9]{14}", first.id)
    assert first.author.id == USER_FULL_ID and first.author.email == "alice@example.com"
    assert second.parent_comment_id == first.id
    mention = second.mentioned[USER_NO_BASES_ID]
    assert (mention.display_name, mention.email, mention.type) == (
        "Bob Nobases",
        "bob@example.com",
        "user",
    )
    listed = table.comments(contact_id(1))
    assert [c.text for c in listed] == [f"Hey @[{USER_NO_BASES_ID}], look", "First note"]
    assert table.comments(contact_id(2)) == []


def test_edit_and_delete_own_comment(airtable_api: Api):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    comment = table.add_comment(contact_id(1), "Typo hree")
    comment.text = "Typo here"
    comment.save()
    [listed] = table.comments(contact_id(1))
    assert listed.text == "Typo here" and listed.last_updated_time is not None
    listed.delete()
    assert table.comments(contact_id(1)) == []


def test_only_the_author_may_edit(airtable_api: Api, airtable_emulator: AirtableEmulator):
    comment = airtable_api.table(BASE_CRM_ID, "Contacts").add_comment(contact_id(1), "Mine")
    other = RawClient(airtable_emulator.url, TOKEN_CRM_ONLY)
    path = f"/v0/{BASE_CRM_ID}/Contacts/{contact_id(1)}/comments/{comment.id}"
    assert other.patch(path, json={"text": "Hijacked"}).status_code == 403
    assert other.delete(path).status_code == 403


def test_comment_pagination_and_validation(raw: RawClient):
    path = f"/v0/{BASE_CRM_ID}/Contacts/{contact_id(1)}/comments"
    for i in range(3):
        assert raw.post(path, json={"text": f"c{i}"}).status_code == 200
    page = raw.get(path, params={"pageSize": 2}).json()
    assert [c["text"] for c in page["comments"]] == ["c2", "c1"]
    rest = raw.get(path, params={"pageSize": 2, "offset": page["offset"]}).json()
    assert [c["text"] for c in rest["comments"]] == ["c0"] and rest["offset"] is None
    assert error_of(raw.post(path, json={"text": ""})) == (422, "INVALID_REQUEST_UNKNOWN")
    missing = f"/v0/{BASE_CRM_ID}/Contacts/recMissingMissing1/comments"
    assert raw.get(missing).status_code == 404


# --- webhooks -----------------------------------------------------------------------------------


def test_create_list_refresh_and_delete_webhooks(airtable_api: Api):
    base = airtable_api.base(BASE_CRM_ID)
    created = base.add_webhook("https://hooks.example/airtable", TABLE_DATA)
    assert re.fullmatch(r"ach[A-Za-z0-9]{14}", created.id)
    assert len(created.mac_secret_base64) >= 40 and created.expiration_time is not None
    [hook] = base.webhooks()
    assert hook.id == created.id
    assert hook.notification_url == "https://hooks.example/airtable"
    assert hook.are_notifications_enabled and hook.is_hook_enabled
    assert hook.cursor_for_next_payload == 1
    assert hook.specification.options.filters.data_types == ["tableData"]
    hook.disable_notifications()
    assert base.webhook(created.id).are_notifications_enabled is False
    hook.enable_notifications()
    hook.extend_expiration()
    assert hook.expiration_time is not None
    hook.delete()
    assert base.webhooks() == []


def test_webhook_payloads_for_record_changes(airtable_api: Api):
    base = airtable_api.base(BASE_CRM_ID)
    spec = {
        "options": {
            "filters": {"dataTypes": ["tableData"], "recordChangeScope": TABLE_CONTACTS_ID},
            "includes": {"includePreviousCellValues": True},
        }
    }
    hook = base.webhook(base.add_webhook("https://hooks.example/x", spec).id)
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    created = contacts.create({"Name": "Hooked"})
    contacts.update(contact_id(1), {"Score": 1})
    contacts.delete(created["id"])
    airtable_api.table(BASE_CRM_ID, "Deals").create({"Name": "Out of scope"})
    payloads = list(hook.payloads())
    assert [p.cursor for p in payloads] == [1, 2, 3]
    assert [p.base_transaction_number for p in payloads] == [1, 2, 3]
    added = payloads[0].changed_tables_by_id[TABLE_CONTACTS_ID].created_records_by_id
    assert added[created["id"]].cell_values_by_field_id == {FIELD_IDS["Contacts"]["Name"]: "Hooked"}
    changed = payloads[1].changed_tables_by_id[TABLE_CONTACTS_ID].changed_records_by_id
    score = FIELD_IDS["Contacts"]["Score"]
    assert changed[contact_id(1)].current.cell_values_by_field_id == {score: 1}
    assert changed[contact_id(1)].previous.cell_values_by_field_id == {score: 8.5}
    removed = payloads[2].changed_tables_by_id[TABLE_CONTACTS_ID].destroyed_record_ids
    assert removed == [created["id"]]
    assert payloads[0].action_metadata.source == "publicApi"
    assert payloads[0].action_metadata.source_metadata["user"]["id"] == USER_FULL_ID
    assert [p.cursor for p in hook.payloads(cursor=3)] == [3]
    assert base.webhook(hook.id).cursor_for_next_payload == 4


def test_payload_pages_and_change_type_filter(raw: RawClient, airtable_api: Api):
    spec = {"options": {"filters": {"dataTypes": ["tableData"], "changeTypes": ["update"]}}}
    hook = airtable_api.base(BASE_CRM_ID).add_webhook("https://hooks.example/y", spec)
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    contacts.create({"Name": "Ignored: an add"})
    for i in range(3):
        contacts.update(contact_id(2), {"Score": i})
    path = f"/v0/bases/{BASE_CRM_ID}/webhooks/{hook.id}/payloads"
    page = raw.get(path, params={"limit": 2}).json()
    assert (page["cursor"], page["mightHaveMore"], len(page["payloads"])) == (3, True, 2)
    rest = raw.get(path, params={"cursor": 3}).json()
    assert (rest["cursor"], rest["mightHaveMore"], len(rest["payloads"])) == (4, False, 1)


def test_schema_changes_and_ui_edits_produce_payloads(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    base = airtable_api.base(BASE_CRM_ID)
    spec = {"options": {"filters": {"dataTypes": ["tableData", "tableFields"]}}}
    hook = base.webhook(base.add_webhook("https://hooks.example/z", spec).id)
    field = airtable_api.table(BASE_CRM_ID, "Deals").create_field("Region", "singleLineText")
    airtable_emulator.state.update_record(
        BASE_CRM_ID, "Deals", "recDeal0000000001", {"Region": "EU"}
    )
    first, second = hook.payloads()
    created_fields = first.changed_tables_by_id[TABLE_DEALS_ID].created_fields_by_id
    assert created_fields[field.id].name == "Region"
    assert second.action_metadata.source == "client"


class _Receiver(BaseHTTPRequestHandler):
    received: queue.Queue[tuple[str, str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.put((body, self.headers["X-Airtable-Content-MAC"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[str, str]]]]:
    received: queue.Queue[tuple[str, str]] = queue.Queue()
    handler = type("Handler", (_Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_notifications_are_delivered_to_loopback_with_a_valid_mac(
    airtable_api: Api, receiver: tuple[str, queue.Queue[tuple[str, str]]]
):
    url, received = receiver
    base = airtable_api.base(BASE_CRM_ID)
    created = base.add_webhook(url, TABLE_DATA)
    airtable_api.table(BASE_CRM_ID, "Contacts").update(contact_id(1), {"Score": 2})
    body, mac = received.get(timeout=5)
    notification = WebhookNotification.from_request(body, mac, created.mac_secret_base64)
    assert notification.base.id == BASE_CRM_ID and notification.webhook.id == created.id
    with pytest.raises(ValueError):
        WebhookNotification.from_request(body, "hmac-sha256=forged", created.mac_secret_base64)


def test_webhook_requires_a_specification(raw: RawClient):
    response = raw.post(f"/v0/bases/{BASE_CRM_ID}/webhooks", json={"notificationUrl": "x"})
    assert error_of(response) == (422, "INVALID_REQUEST_UNKNOWN")
    missing = raw.delete(f"/v0/bases/{BASE_CRM_ID}/webhooks/achMissingMissing1")
    assert missing.status_code == 404
