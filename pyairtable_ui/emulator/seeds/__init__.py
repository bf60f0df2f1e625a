"""Seeds for the Airtable emulator: a small deterministic test seed and the demo seed.

``build_seed()`` returns a fresh dict every call, so tests may modify it freely. All ids are fixed,
so tests can hard-code them. Tokens are PAT-shaped (``pat`` + 14 characters + ``.`` + 64 hex
digits); the hex part is 63 zeros and a final digit, so use the constants rather than retyping:

* ``TOKEN_FULL`` = ``patEmuFullAccess1.`` + ``0`` * 63 + ``1`` - user ``usrEmuAlice000001``
  (alice@example.com); CRM + Projects bases; every scope.
* ``TOKEN_NO_BASES`` = ``patEmuNoBases0001.`` + ``0`` * 63 + ``2`` - ``usrEmuBob00000001``;
  every scope but no bases (``/v0/meta/bases`` is empty, every base is 403).
* ``TOKEN_READ_ONLY`` = ``patEmuReadOnly001.`` + ``0`` * 63 + ``3`` - ``usrEmuCarol000001``;
  both bases; ``data.records:read``, ``data.recordComments:read``, ``schema.bases:read`` only
  (no ``data.records:write``: every record write is 403).
* ``TOKEN_CRM_ONLY`` = ``patEmuCrmOnly0001.`` + ``0`` * 63 + ``4`` - ``usrEmuDave0000001``;
  CRM base only; every scope.
* ``TOKEN_NO_SCHEMA`` = ``patEmuNoSchema001.`` + ``0`` * 63 + ``5`` - ``usrEmuErin0000001``;
  both bases; record scopes only (no ``schema.bases:*``).

Bases and tables:

* ``BASE_CRM_ID = "appEmulatorBase01"`` ("Emulator CRM", permission ``create``)

  - ``Companies`` ``tblEmuCompanies01`` (5 records, ``recCompany0000001``...): Name, Industry
    (singleSelect), Employees (number), Website (url), Active (checkbox), Founded (date),
    Contacts (link <-> Contacts.Company), Deals (link <-> Deals.Company), Contact Count (count),
    Pipeline Value (rollup ``SUM(values)`` of Deals.Amount), Notes (long text)
  - ``Contacts`` ``tblEmuContacts001`` (8 records, ``recContact0000001``...): Name, Email,
    Company (link), Role (singleSelect), Tags (multipleSelects), Score (number, 1 decimal),
    Last Contacted (dateTime), Company Industry (lookup), Label (formula), Created (createdTime),
    Contact No (autoNumber), Phone; views "Grid view" and "VIPs" (filtered, sorted by Score desc)
  - ``Deals`` ``tblEmuDeals000001`` (6 records, ``recDeal0000000001``...): Name, Company (link),
    Amount (currency), Stage (singleSelect), Close Date (date), Probability (percent),
    Won (formula), Owner (collaborator); views "Grid view" and "Open deals"

* ``BASE_PROJECTS_ID = "appEmulatorBase02"`` ("Emulator Projects")

  - ``Projects`` ``tblEmuProjects001`` (3 records): Name, Status, Due, Budget, Tasks (link)
  - ``Tasks`` ``tblEmuTasks000001`` (6 records): Name, Project (link), Done, Estimate, Assignee
  - ``Items`` ``tblEmuItems000001`` only when ``build_seed(big_table_records=N)``: N records named
    ``Item 0001``... with Index (number), Group (singleSelect A-D), Even (checkbox)

Field ids are listed in :data:`FIELD_IDS` (``FIELD_IDS["Contacts"]["Score"]``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..state import (
    SCOPE_COMMENTS_READ,
    SCOPE_COMMENTS_WRITE,
    SCOPE_EMAIL,
    SCOPE_RECORDS_READ,
    SCOPE_RECORDS_WRITE,
    SCOPE_SCHEMA_READ,
    SCOPE_SCHEMA_WRITE,
    SCOPE_WEBHOOKS,
)

SEEDS_DIR = Path(__file__).resolve().parent
DEMO_SEED_PATH = SEEDS_DIR / "demo.json"

TOKEN_FULL = "patEmuFullAccess1.0000000000000000000000000000000000000000000000000000000000000001"
TOKEN_NO_BASES = (
    "patEmuNoBases0001.0000000000000000000000000000000000000000000000000000000000000002"
)
TOKEN_READ_ONLY = (
    "patEmuReadOnly001.0000000000000000000000000000000000000000000000000000000000000003"
)
TOKEN_CRM_ONLY = (
    "patEmuCrmOnly0001.0000000000000000000000000000000000000000000000000000000000000004"
)
TOKEN_NO_SCHEMA = (
    "patEmuNoSchema001.0000000000000000000000000000000000000000000000000000000000000005"
)

USER_FULL_ID = "usrEmuAlice000001"
USER_NO_BASES_ID = "usrEmuBob00000001"
USER_READ_ONLY_ID = "usrEmuCarol000001"
USER_CRM_ONLY_ID = "usrEmuDave0000001"
USER_NO_SCHEMA_ID = "usrEmuErin0000001"

BASE_CRM_ID = "appEmulatorBase01"
BASE_PROJECTS_ID = "appEmulatorBase02"

TABLE_COMPANIES_ID = "tblEmuCompanies01"
TABLE_CONTACTS_ID = "tblEmuContacts001"
TABLE_DEALS_ID = "tblEmuDeals000001"
TABLE_PROJECTS_ID = "tblEmuProjects001"
TABLE_TASKS_ID = "tblEmuTasks000001"
TABLE_ITEMS_ID = "tblEmuItems000001"

ALL_SCOPES = [
    SCOPE_RECORDS_READ,
    SCOPE_RECORDS_WRITE,
    SCOPE_COMMENTS_READ,
    SCOPE_COMMENTS_WRITE,
    SCOPE_SCHEMA_READ,
    SCOPE_SCHEMA_WRITE,
    SCOPE_WEBHOOKS,
    SCOPE_EMAIL,
]
READ_SCOPES = [SCOPE_RECORDS_READ, SCOPE_COMMENTS_READ, SCOPE_SCHEMA_READ]
RECORD_SCOPES = [SCOPE_RECORDS_READ, SCOPE_RECORDS_WRITE]


def padded_id(prefix: str, label: str, number: int) -> str:
    """``padded_id("rec", "Contact", 3)`` -> ``recContact0000003`` (prefix + 14 characters)."""
    body = label + str(number).zfill(14 - len(label))
    if len(body) != 14:
        raise ValueError(f"{label!r} + {number} does not fit in 14 characters")
    return prefix + body


def _fields(label: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": padded_id("fld", label, i), **spec} for i, spec in enumerate(specs, start=1)]


_COMPANY_FIELDS = _fields(
    "Companies",
    [
        {"name": "Name", "type": "singleLineText"},
        {
            "name": "Industry",
            "type": "singleSelect",
            "options": {
                "choices": ["Software", "Retail", "Finance", "Healthcare", "Manufacturing"]
            },
        },
        {"name": "Employees", "type": "number", "options": {"precision": 0}},
        {"name": "Website", "type": "url"},
        {"name": "Active", "type": "checkbox"},
        {"name": "Founded", "type": "date"},
        {
            "name": "Contacts",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_CONTACTS_ID},
        },
        {
            "name": "Deals",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_DEALS_ID},
        },
        {"name": "Contact Count", "type": "count", "options": {"recordLinkFieldId": "Contacts"}},
        {
            "name": "Pipeline Value",
            "type": "rollup",
            "options": {
                "recordLinkFieldId": "Deals",
                "fieldIdInLinkedTable": "Amount",
                "formula": "SUM(values)",
            },
        },
        {"name": "Notes", "type": "multilineText", "description": "Free-form notes"},
    ],
)

_CONTACT_FIELDS = _fields(
    "Contacts",
    [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Email", "type": "email"},
        {
            "name": "Company",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_COMPANIES_ID, "prefersSingleRecordLink": True},
        },
        {
            "name": "Role",
            "type": "singleSelect",
            "options": {"choices": ["Engineer", "Manager", "Executive", "Sales"]},
        },
        {
            "name": "Tags",
            "type": "multipleSelects",
            "options": {"choices": ["VIP", "Newsletter", "Partner", "Lead"]},
        },
        {"name": "Score", "type": "number", "options": {"precision": 1}},
        {"name": "Last Contacted", "type": "dateTime"},
        {
            "name": "Company Industry",
            "type": "multipleLookupValues",
            "options": {"recordLinkFieldId": "Company", "fieldIdInLinkedTable": "Industry"},
        },
        {
            "name": "Label",
            "type": "formula",
            "options": {"formula": "{Name} & ' (' & {Role} & ')'"},
        },
        {"name": "Created", "type": "createdTime"},
        {"name": "Contact No", "type": "autoNumber"},
        {"name": "Phone", "type": "phoneNumber"},
    ],
)

_DEAL_FIELDS = _fields(
    "Deals",
    [
        {"name": "Name", "type": "singleLineText"},
        {
            "name": "Company",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_COMPANIES_ID},
        },
        {"name": "Amount", "type": "currency", "options": {"precision": 2, "symbol": "$"}},
        {
            "name": "Stage",
            "type": "singleSelect",
            "options": {"choices": ["Lead", "Qualified", "Proposal", "Won", "Lost"]},
        },
        {"name": "Close Date", "type": "date"},
        {"name": "Probability", "type": "percent", "options": {"precision": 0}},
        {"name": "Won", "type": "formula", "options": {"formula": "{Stage} = 'Won'"}},
        {"name": "Owner", "type": "singleCollaborator"},
    ],
)

_PROJECT_FIELDS = _fields(
    "Projects",
    [
        {"name": "Name", "type": "singleLineText"},
        {
            "name": "Status",
            "type": "singleSelect",
            "options": {"choices": ["Planned", "Active", "Done"]},
        },
        {"name": "Due", "type": "date"},
        {"name": "Budget", "type": "currency"},
        {
            "name": "Tasks",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_TASKS_ID},
        },
    ],
)

_TASK_FIELDS = _fields(
    "Tasks",
    [
        {"name": "Name", "type": "singleLineText"},
        {
            "name": "Project",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_PROJECTS_ID},
        },
        {"name": "Done", "type": "checkbox"},
        {"name": "Estimate", "type": "number", "options": {"precision": 1}},
        {"name": "Assignee", "type": "singleCollaborator"},
    ],
)

_ITEM_FIELDS = _fields(
    "Items",
    [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Index", "type": "number"},
        {"name": "Group", "type": "singleSelect", "options": {"choices": ["A", "B", "C", "D"]}},
        {"name": "Even", "type": "checkbox"},
    ],
)

#: Field ids by table name and field name.
FIELD_IDS: dict[str, dict[str, str]] = {
    table: {f["name"]: f["id"] for f in fields}
    for table, fields in (
        ("Companies", _COMPANY_FIELDS),
        ("Contacts", _CONTACT_FIELDS),
        ("Deals", _DEAL_FIELDS),
        ("Projects", _PROJECT_FIELDS),
        ("Tasks", _TASK_FIELDS),
        ("Items", _ITEM_FIELDS),
    )
}


def _records(label: str, rows: list[dict[str, Any]], day: int) -> list[dict[str, Any]]:
    return [
        {
            "id": padded_id("rec", label, i),
            "createdTime": f"2024-01-{day:02d}T09:{i:02d}:00.000Z",
            "fields": row,
        }
        for i, row in enumerate(rows, start=1)
    ]


def company_id(n: int) -> str:
    """Record id of company ``n`` (1-5)."""
    return padded_id("rec", "Company", n)


def contact_id(n: int) -> str:
    """Record id of contact ``n`` (1-8)."""
    return padded_id("rec", "Contact", n)


def deal_id(n: int) -> str:
    """Record id of deal ``n`` (1-6)."""
    return padded_id("rec", "Deal", n)


def _companies() -> list[dict[str, Any]]:
    rows = [
        ("Acme Corp", "Software", 120, "https://acme.example", True, "2010-03-15"),
        ("Globex", "Finance", 450, "https://globex.example", True, "1998-07-01"),
        ("Initech", "Software", 80, "https://initech.example", False, "2005-11-20"),
        ("Umbrella Health", "Healthcare", 1200, "https://umbrella.example", True, "1985-02-28"),
        ("Stark Retail", "Retail", 60, None, True, "2019-09-09"),
    ]
    records = []
    for name, industry, employees, website, active, founded in rows:
        fields: dict[str, Any] = {
            "Name": name,
            "Industry": industry,
            "Employees": employees,
            "Active": active,
            "Founded": founded,
        }
        if website:
            fields["Website"] = website
        records.append(fields)
    records[0]["Notes"] = "Key account.\nRenewal every February."
    return _records("Company", records, 2)


def _contacts() -> list[dict[str, Any]]:
    rows = [
        ("Alice Anders", 1, "Engineer", ["VIP", "Newsletter"], 8.5, "2024-03-01T10:00:00.000Z"),
        ("Bob Brown", 1, "Manager", ["Lead"], 6, "2024-02-15T14:30:00.000Z"),
        ("Carol Chen", 2, "Executive", ["VIP"], 9.2, "2024-03-10T09:15:00.000Z"),
        ("Dan Diaz", 3, "Engineer", [], 4, None),
        ("Eve Evans", 4, "Sales", ["Newsletter"], 7.5, "2024-01-20T16:45:00.000Z"),
        ("Frank Fox", 5, "Manager", ["Partner"], 5, "2023-12-05T11:00:00.000Z"),
        ("Grace Green", 2, "Engineer", ["Lead", "Newsletter"], None, None),
        ("Heidi Hill", None, "Sales", [], 3, "2024-03-12T08:00:00.000Z"),
    ]
    records = []
    for name, company, role, tags, score, contacted in rows:
        fields: dict[str, Any] = {
            "Name": name,
            "Email": name.split()[0].lower() + "@example.com",
            "Role": role,
        }
        if company:
            fields["Company"] = [company_id(company)]
        if tags:
            fields["Tags"] = tags
        if score is not None:
            fields["Score"] = score
        if contacted:
            fields["Last Contacted"] = contacted
        records.append(fields)
    records[0]["Phone"] = "+1 555 0100"
    return _records("Contact", records, 3)


def _deals() -> list[dict[str, Any]]:
    rows = [
        ("Acme renewal", 1, 12000, "Won", "2024-02-01", 1.0, USER_FULL_ID),
        ("Acme expansion", 1, 30000, "Proposal", "2024-06-30", 0.5, USER_FULL_ID),
        ("Globex pilot", 2, 8000, "Qualified", "2024-05-15", 0.3, USER_CRM_ONLY_ID),
        ("Initech license", 3, 5000, "Lost", "2024-01-31", 0.0, None),
        ("Umbrella platform", 4, 55000, "Lead", "2024-09-01", 0.1, USER_CRM_ONLY_ID),
        ("Stark POS", 5, 15000, "Won", "2024-03-20", 1.0, USER_FULL_ID),
    ]
    records = []
    for name, company, amount, stage, close, probability, owner in rows:
        fields: dict[str, Any] = {
            "Name": name,
            "Company": [company_id(company)],
            "Amount": amount,
            "Stage": stage,
            "Close Date": close,
            "Probability": probability,
        }
        if owner:
            fields["Owner"] = {"id": owner}
        records.append(fields)
    return _records("Deal", records, 4)


def _projects_and_tasks() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    projects = _records(
        "Project",
        [
            {"Name": "Website relaunch", "Status": "Active", "Due": "2024-06-01", "Budget": 25000},
            {"Name": "Mobile app", "Status": "Planned", "Due": "2024-12-01", "Budget": 80000},
            {"Name": "Office move", "Status": "Done", "Due": "2024-02-01", "Budget": 12000},
        ],
        5,
    )
    task_rows = [
        ("Design mockups", 1, True, 16, USER_FULL_ID),
        ("Build landing page", 1, False, 24, USER_CRM_ONLY_ID),
        ("Write copy", 1, False, 8, None),
        ("Pick framework", 2, False, 4, USER_FULL_ID),
        ("Pack boxes", 3, True, 12, None),
        ("Book movers", 3, True, 2, USER_FULL_ID),
    ]
    tasks = []
    for name, project, done, estimate, assignee in task_rows:
        fields: dict[str, Any] = {
            "Name": name,
            "Project": [padded_id("rec", "Project", project)],
            "Done": done,
            "Estimate": estimate,
        }
        if assignee:
            fields["Assignee"] = {"id": assignee}
        tasks.append(fields)
    return projects, _records("Task", tasks, 6)


def _items(count: int) -> list[dict[str, Any]]:
    groups = ["A", "B", "C", "D"]
    return [
        {
            "id": padded_id("rec", "Item", i),
            # Distinct, increasing creation times keep the default order obvious.
            "createdTime": f"2024-02-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
            "fields": {
                "Name": f"Item {i:04d}",
                "Index": i,
                "Group": groups[i % 4],
                "Even": i % 2 == 0,
            },
        }
        for i in range(1, count + 1)
    ]


def build_seed(*, big_table_records: int = 0) -> dict[str, Any]:
    """Build the small deterministic test seed (a new dict every call).

    Args:
        big_table_records: When positive, add an ``Items`` table with that many records to the
            Projects base (e.g. 1000 for pagination tests).

    Returns:
        A seed dict for :class:`~pyairtable_ui.emulator.AirtableEmulator`.
    """
    projects, tasks = _projects_and_tasks()
    project_tables: list[dict[str, Any]] = [
        {
            "id": TABLE_PROJECTS_ID,
            "name": "Projects",
            "description": "Company projects",
            "fields": copy.deepcopy(_PROJECT_FIELDS),
            "records": projects,
        },
        {
            "id": TABLE_TASKS_ID,
            "name": "Tasks",
            "fields": copy.deepcopy(_TASK_FIELDS),
            "records": tasks,
        },
    ]
    if big_table_records > 0:
        project_tables.append(
            {
                "id": TABLE_ITEMS_ID,
                "name": "Items",
                "fields": copy.deepcopy(_ITEM_FIELDS),
                "records": _items(big_table_records),
            }
        )
    return {
        "tokens": [
            {
                "token": TOKEN_FULL,
                "user_id": USER_FULL_ID,
                "email": "alice@example.com",
                "name": "Alice Admin",
                "bases": [BASE_CRM_ID, BASE_PROJECTS_ID],
                "scopes": list(ALL_SCOPES),
            },
            {
                "token": TOKEN_NO_BASES,
                "user_id": USER_NO_BASES_ID,
                "email": "bob@example.com",
                "name": "Bob Nobases",
                "bases": [],
                "scopes": list(ALL_SCOPES),
            },
            {
                "token": TOKEN_READ_ONLY,
                "user_id": USER_READ_ONLY_ID,
                "email": "carol@example.com",
                "name": "Carol Reader",
                "bases": [BASE_CRM_ID, BASE_PROJECTS_ID],
                "scopes": list(READ_SCOPES),
            },
            {
                "token": TOKEN_CRM_ONLY,
                "user_id": USER_CRM_ONLY_ID,
                "email": "dave@example.com",
                "name": "Dave Sales",
                "bases": [BASE_CRM_ID],
                "scopes": list(ALL_SCOPES),
            },
            {
                "token": TOKEN_NO_SCHEMA,
                "user_id": USER_NO_SCHEMA_ID,
                "email": "erin@example.com",
                "name": "Erin Records",
                "bases": [BASE_CRM_ID, BASE_PROJECTS_ID],
                "scopes": list(RECORD_SCOPES),
            },
        ],
        "bases": [
            {
                "id": BASE_CRM_ID,
                "name": "Emulator CRM",
                "permission_level": "create",
                "tables": [
                    {
                        "id": TABLE_COMPANIES_ID,
                        "name": "Companies",
                        "description": "Customer companies",
                        "fields": copy.deepcopy(_COMPANY_FIELDS),
                        "records": _companies(),
                    },
                    {
                        "id": TABLE_CONTACTS_ID,
                        "name": "Contacts",
                        "fields": copy.deepcopy(_CONTACT_FIELDS),
                        "views": [
                            {"id": "viwEmuContacts001", "name": "Grid view", "type": "grid"},
                            {
                                "id": "viwEmuContacts002",
                                "name": "VIPs",
                                "type": "grid",
                                "filterByFormula": "FIND('VIP', ARRAYJOIN({Tags}))",
                                "sort": [{"field": "Score", "direction": "desc"}],
                            },
                        ],
                        "records": _contacts(),
                    },
                    {
                        "id": TABLE_DEALS_ID,
                        "name": "Deals",
                        "fields": copy.deepcopy(_DEAL_FIELDS),
                        "views": [
                            {"id": "viwEmuDeals000001", "name": "Grid view", "type": "grid"},
                            {
                                "id": "viwEmuDeals000002",
                                "name": "Open deals",
                                "type": "grid",
                                "filterByFormula": "AND({Stage} != 'Won', {Stage} != 'Lost')",
                                "sort": [{"field": "Amount", "direction": "desc"}],
                            },
                        ],
                        "records": _deals(),
                    },
                ],
            },
            {
                "id": BASE_PROJECTS_ID,
                "name": "Emulator Projects",
                "permission_level": "create",
                "tables": project_tables,
            },
        ],
    }


#: The default small seed (build a fresh copy with ``build_seed()`` before modifying it).
SMALL_SEED: dict[str, Any] = build_seed()
