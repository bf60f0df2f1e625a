"""Generate ``demo.json``: a realistic, deterministic CRM + project tracker seed.

Run from the repository root::

    python -m pyairtable_ui.emulator.seeds.make_demo          # rewrite demo.json
    python -m pyairtable_ui.emulator.seeds.make_demo --check  # exit 1 if demo.json is stale

Base "Acme Sales CRM": Companies (60), Contacts (300), Deals (250), Activities (400).
Base "Product Roadmap": Projects (15), Tasks (200).
Linked tables, single/multiple selects, dates and datetimes, checkboxes, numbers, currency,
percent, durations, collaborators, lookups, counts, rollups and formulas are all represented.
Everything comes from one seeded ``random.Random``, so the output never changes between runs.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent / "demo.json"
RANDOM_SEED = 20240601
ID_ALPHABET = string.ascii_letters + string.digits

DEMO_TOKEN = "patDemoFullAccess.000000000000000000000000000000000000000000000000000000000000000b"
DEMO_READ_TOKEN = (
    "patDemoReadOnly01.000000000000000000000000000000000000000000000000000000000000000c"
)

FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Elijah Sophia Lucas Mia Mateo Amelia Levi Harper Ezra Evelyn Luca "
    "Aria Asher Chloe Leo Nora Kai Zoe Ravi Priya Aiko Kenji Fatima Omar Ingrid Sven Chiara Marco "
    "Lena Jonas Ana Diego Sofia Hugo Ines Tariq Mei Wei Yusuf Amara Kwame Nia Tomas Elena"
).split()
LAST_NAMES = (
    "Smith Johnson Garcia Brown Davis Miller Wilson Moore Taylor Anderson Thomas Martin Lee Perez "
    "White Harris Clark Lewis Walker Hall Young King Wright Lopez Hill Scott Green Adams Nelson "
    "Baker Rossi Fischer Nakamura Okafor Haddad Novak Silva Kowalski Larsen Dubois Patel Kim"
).split()
COMPANY_WORDS = (
    "Apex Blue Bright Cedar Clear Copper Crest Delta Ember Falcon Granite Harbor Horizon Iron "
    "Juniper Keystone Lumen Maple Meridian Nimbus North Oak Orbit Pioneer Quartz River Summit "
    "Terra Vertex Willow Zenith Atlas Beacon Cobalt"
).split()
COMPANY_SUFFIXES = (
    "Labs Systems Health Foods Logistics Capital Retail Energy Media Robotics Analytics Works"
).split()
INDUSTRIES = [
    "Software",
    "Finance",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Education",
    "Energy",
    "Logistics",
]
COUNTRIES = ["United States", "Germany", "United Kingdom", "France", "Japan", "Brazil", "India"]
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1000+"]
ROLES = ["Decision Maker", "Champion", "Influencer", "User", "Blocker"]
TITLES = [
    "CTO",
    "VP Engineering",
    "Head of Operations",
    "Procurement Manager",
    "Product Manager",
    "Data Analyst",
    "CFO",
    "IT Director",
    "Office Manager",
    "Software Engineer",
]
CONTACT_TAGS = ["VIP", "Newsletter", "Event 2024", "Partner", "Churn Risk"]
STAGES = ["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"]
STAGE_PROBABILITY = {
    "Prospecting": 0.1,
    "Qualification": 0.25,
    "Proposal": 0.5,
    "Negotiation": 0.75,
    "Closed Won": 1.0,
    "Closed Lost": 0.0,
}
PRODUCTS = ["Platform", "Analytics", "Support Plus", "Integrations", "Training"]
ACTIVITY_TYPES = ["Call", "Email", "Meeting", "Demo"]
PROJECT_STATUSES = ["Planned", "In progress", "Blocked", "Done"]
PRIORITIES = ["P0", "P1", "P2", "P3"]
TASK_STATUSES = ["To do", "In progress", "Review", "Done"]
TASK_TAGS = ["Frontend", "Backend", "Design", "QA", "Docs"]
TASK_VERBS = "Design Build Review Test Document Refactor Deploy Migrate Audit Prototype".split()
TASK_OBJECTS = (
    "login flow|billing page|search index|API client|onboarding emails|dashboard|export job|"
    "permissions model|mobile layout|release notes|error tracking|data import"
).split("|")
PROJECT_NAMES = [
    "Website relaunch",
    "Mobile app v2",
    "Self-serve billing",
    "Data warehouse",
    "SSO for enterprise",
    "Help center",
    "Partner portal",
    "Usage analytics",
    "EU data residency",
    "Onboarding revamp",
    "Public API v3",
    "Design system",
    "Performance sprint",
    "Marketplace launch",
    "Security audit",
]

USERS = [
    {"id": "usrDemoOwner00001", "email": "olivia.owner@acme.example", "name": "Olivia Owner"},
    {"id": "usrDemoReader0001", "email": "rita.reader@acme.example", "name": "Rita Reader"},
    {"id": "usrDemoPriya00001", "email": "priya.patel@acme.example", "name": "Priya Patel"},
    {"id": "usrDemoMarco00001", "email": "marco.rossi@acme.example", "name": "Marco Rossi"},
    {"id": "usrDemoLena000001", "email": "lena.fischer@acme.example", "name": "Lena Fischer"},
    {"id": "usrDemoSam0000001", "email": "sam.okafor@acme.example", "name": "Sam Okafor"},
]
SALES_REPS = [u["id"] for u in USERS[2:]]

CRM_BASE_ID = "appDemoSalesCrm01"
ROADMAP_BASE_ID = "appDemoRoadmap001"
START = datetime(2023, 1, 1, tzinfo=UTC)


class Generator:
    """Deterministic builder; every random choice goes through ``self.rng``."""

    def __init__(self) -> None:
        self.rng = random.Random(RANDOM_SEED)
        self.used_ids: set[str] = set()

    def id(self, prefix: str) -> str:
        """A realistic-looking, deterministic, unique id."""
        while True:
            value = prefix + "".join(self.rng.choice(ID_ALPHABET) for _ in range(14))
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def moment(self, start: datetime, days: int) -> datetime:
        """A random instant within ``days`` days after ``start``, on a whole minute."""
        minutes = self.rng.randrange(days * 24 * 60)
        return start + timedelta(minutes=minutes)

    def day(self, start: date, days: int) -> str:
        """A random ``YYYY-MM-DD`` within ``days`` days after ``start``."""
        return (start + timedelta(days=self.rng.randrange(days))).isoformat()

    def iso(self, value: datetime) -> str:
        """Airtable timestamp format."""
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def fields(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give every field spec an id."""
        return [{"id": self.id("fld"), **spec} for spec in specs]

    def records(self, rows: list[dict[str, Any]], start: datetime, days: int) -> list[dict]:
        """Wrap field dicts into records with ids and ascending creation times."""
        times = sorted(self.moment(start, days) for _ in rows)
        return [
            {"id": self.id("rec"), "createdTime": self.iso(created), "fields": row}
            for created, row in zip(times, rows, strict=True)
        ]


def _field_id(table: dict[str, Any], name: str) -> str:
    return next(f["id"] for f in table["fields"] if f["name"] == name)


def build_crm(gen: Generator) -> dict[str, Any]:
    """The "Acme Sales CRM" base."""
    rng = gen.rng
    companies: dict[str, Any] = {
        "id": gen.id("tbl"),
        "name": "Companies",
        "description": "Accounts we sell to",
    }
    contacts: dict[str, Any] = {
        "id": gen.id("tbl"),
        "name": "Contacts",
        "description": "People at accounts",
    }
    deals: dict[str, Any] = {
        "id": gen.id("tbl"),
        "name": "Deals",
        "description": "Sales opportunities",
    }
    activities: dict[str, Any] = {
        "id": gen.id("tbl"),
        "name": "Activities",
        "description": "Calls, emails...",
    }

    companies["fields"] = gen.fields(
        [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Industry", "type": "singleSelect", "options": {"choices": INDUSTRIES}},
            {"name": "Size", "type": "singleSelect", "options": {"choices": SIZES}},
            {"name": "Country", "type": "singleSelect", "options": {"choices": COUNTRIES}},
            {"name": "Employees", "type": "number", "options": {"precision": 0}},
            {"name": "Website", "type": "url"},
            {"name": "Customer Since", "type": "date", "options": {"dateFormat": "iso"}},
            {"name": "Active", "type": "checkbox"},
            {"name": "Annual Revenue", "type": "currency", "options": {"precision": 0}},
            {"name": "Account Owner", "type": "singleCollaborator"},
            {
                "name": "Contacts",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": contacts["id"]},
            },
            {
                "name": "Deals",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": deals["id"]},
            },
            {
                "name": "Contact Count",
                "type": "count",
                "options": {"recordLinkFieldId": "Contacts"},
            },
            {
                "name": "Won Revenue",
                "type": "rollup",
                "options": {
                    "recordLinkFieldId": "Deals",
                    "fieldIdInLinkedTable": "Won Amount",
                    "formula": "SUM(values)",
                },
            },
            {"name": "Notes", "type": "multilineText"},
        ]
    )
    contacts["fields"] = gen.fields(
        [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Email", "type": "email"},
            {"name": "Phone", "type": "phoneNumber"},
            {"name": "Title", "type": "singleLineText"},
            {"name": "Role", "type": "singleSelect", "options": {"choices": ROLES}},
            {
                "name": "Company",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": companies["id"], "prefersSingleRecordLink": True},
            },
            {"name": "Tags", "type": "multipleSelects", "options": {"choices": CONTACT_TAGS}},
            {"name": "Lead Score", "type": "number", "options": {"precision": 0}},
            {"name": "Last Contacted", "type": "dateTime"},
            {"name": "Do Not Contact", "type": "checkbox"},
            {
                "name": "Activities",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": activities["id"]},
            },
            {
                "name": "Company Industry",
                "type": "multipleLookupValues",
                "options": {"recordLinkFieldId": "Company", "fieldIdInLinkedTable": "Industry"},
            },
            {
                "name": "Display Name",
                "type": "formula",
                "options": {"formula": "{Name} & IF({Title}, ', ' & {Title}, '')"},
            },
            {"name": "Created", "type": "createdTime"},
        ]
    )
    deals["fields"] = gen.fields(
        [
            {"name": "Name", "type": "singleLineText"},
            {
                "name": "Company",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": companies["id"], "prefersSingleRecordLink": True},
            },
            {"name": "Stage", "type": "singleSelect", "options": {"choices": STAGES}},
            {"name": "Amount", "type": "currency", "options": {"precision": 0}},
            {"name": "Probability", "type": "percent", "options": {"precision": 0}},
            {"name": "Close Date", "type": "date"},
            {"name": "Owner", "type": "singleCollaborator"},
            {"name": "Products", "type": "multipleSelects", "options": {"choices": PRODUCTS}},
            {
                "name": "Expected Revenue",
                "type": "formula",
                "options": {"formula": "ROUND({Amount} * {Probability}, 0)"},
            },
            {
                "name": "Won Amount",
                "type": "formula",
                "options": {"formula": "IF({Stage} = 'Closed Won', {Amount}, 0)"},
            },
            {"name": "Deal No", "type": "autoNumber"},
        ]
    )
    activities["fields"] = gen.fields(
        [
            {"name": "Subject", "type": "singleLineText"},
            {"name": "Type", "type": "singleSelect", "options": {"choices": ACTIVITY_TYPES}},
            {
                "name": "Contact",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": contacts["id"], "prefersSingleRecordLink": True},
            },
            {"name": "When", "type": "dateTime"},
            {"name": "Done", "type": "checkbox"},
            {"name": "Duration", "type": "duration", "options": {"durationFormat": "h:mm"}},
            {"name": "Outcome", "type": "multilineText"},
        ]
    )

    company_rows: list[dict[str, Any]] = []
    names: set[str] = set()
    while len(company_rows) < 60:
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
        if name in names:
            continue
        names.add(name)
        employees = rng.choice(
            [
                rng.randint(3, 10),
                rng.randint(11, 50),
                rng.randint(51, 200),
                rng.randint(201, 1000),
                rng.randint(1001, 20000),
            ]
        )
        size = next(
            s for s, top in zip(SIZES, (10, 50, 200, 1000, 10**9), strict=True) if employees <= top
        )
        row: dict[str, Any] = {
            "Name": name,
            "Industry": rng.choice(INDUSTRIES),
            "Size": size,
            "Country": rng.choice(COUNTRIES),
            "Employees": employees,
            "Customer Since": gen.day(date(2015, 1, 1), 3000),
            "Active": rng.random() < 0.8,
            "Annual Revenue": employees * rng.randint(80, 250) * 1000,
            "Account Owner": {"id": rng.choice(SALES_REPS)},
        }
        if rng.random() < 0.9:
            row["Website"] = "https://" + name.lower().replace(" ", "") + ".example"
        if rng.random() < 0.2:
            row["Notes"] = rng.choice(
                ["Strategic account.", "Renewal due soon.", "Prefers email.", "Budget frozen."]
            )
        company_rows.append(row)
    companies["records"] = gen.records(company_rows, START, 120)
    company_ids = [r["id"] for r in companies["records"]]

    contact_rows: list[dict[str, Any]] = []
    for index in range(300):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(company_ids) if index < 285 else None
        row = {
            "Name": f"{first} {last}",
            "Email": f"{first.lower()}.{last.lower()}{index}@example.com",
            "Title": rng.choice(TITLES),
            "Role": rng.choice(ROLES),
            "Lead Score": rng.randint(0, 100),
        }
        if company:
            row["Company"] = [company]
        if rng.random() < 0.7:
            row["Phone"] = f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        tags = sorted(
            rng.sample(CONTACT_TAGS, rng.choice([0, 0, 1, 1, 2, 3])), key=CONTACT_TAGS.index
        )
        if tags:
            row["Tags"] = tags
        if rng.random() < 0.85:
            row["Last Contacted"] = gen.iso(gen.moment(datetime(2024, 1, 1, tzinfo=UTC), 150))
        if rng.random() < 0.05:
            row["Do Not Contact"] = True
        contact_rows.append(row)
    contacts["records"] = gen.records(contact_rows, START + timedelta(days=30), 400)
    contact_ids = [r["id"] for r in contacts["records"]]

    deal_rows: list[dict[str, Any]] = []
    for _ in range(250):
        company_index = rng.randrange(len(company_ids))
        company_name = company_rows[company_index]["Name"]
        stage = rng.choices(STAGES, weights=[3, 3, 3, 2, 4, 3])[0]
        products = sorted(rng.sample(PRODUCTS, rng.randint(1, 3)), key=PRODUCTS.index)
        row = {
            "Name": f"{company_name} - {products[0]}",
            "Company": [company_ids[company_index]],
            "Stage": stage,
            "Amount": rng.randrange(2, 200) * 500,
            "Probability": STAGE_PROBABILITY[stage],
            "Close Date": gen.day(date(2024, 1, 1), 540),
            "Owner": {"id": rng.choice(SALES_REPS)},
            "Products": products,
        }
        deal_rows.append(row)
    deals["records"] = gen.records(deal_rows, START + timedelta(days=60), 500)

    activity_rows: list[dict[str, Any]] = []
    for _ in range(400):
        kind = rng.choice(ACTIVITY_TYPES)
        contact_index = rng.randrange(len(contact_ids))
        when = gen.moment(datetime(2024, 1, 1, tzinfo=UTC), 200)
        row = {
            "Subject": f"{kind} with {contact_rows[contact_index]['Name']}",
            "Type": kind,
            "Contact": [contact_ids[contact_index]],
            "When": gen.iso(when),
            "Done": when < datetime(2024, 6, 1, tzinfo=UTC),
            "Duration": rng.choice([5, 15, 30, 45, 60, 90]) * 60,
        }
        if rng.random() < 0.3:
            row["Outcome"] = rng.choice(
                ["Interested", "Asked for pricing", "Follow up next week", "No answer"]
            )
        activity_rows.append(row)
    activities["records"] = gen.records(activity_rows, datetime(2024, 1, 1, tzinfo=UTC), 200)

    # Explicit inverse pairs (the emulator would also pair them automatically).
    for table, link, other, inverse in (
        (companies, "Contacts", contacts, "Company"),
        (companies, "Deals", deals, "Company"),
        (contacts, "Activities", activities, "Contact"),
    ):
        for fld in table["fields"]:
            if fld["name"] == link:
                fld["options"]["inverseLinkFieldId"] = _field_id(other, inverse)
        for fld in other["fields"]:
            if fld["name"] == inverse:
                fld["options"]["inverseLinkFieldId"] = _field_id(table, link)

    contacts["views"] = [
        {"id": gen.id("viw"), "name": "All contacts", "type": "grid"},
        {
            "id": gen.id("viw"),
            "name": "VIPs",
            "type": "grid",
            "filterByFormula": "FIND('VIP', ARRAYJOIN({Tags}))",
            "sort": [{"field": "Lead Score", "direction": "desc"}],
        },
    ]
    deals["views"] = [
        {"id": gen.id("viw"), "name": "All deals", "type": "grid"},
        {
            "id": gen.id("viw"),
            "name": "Open pipeline",
            "type": "grid",
            "filterByFormula": "AND({Stage} != 'Closed Won', {Stage} != 'Closed Lost')",
            "sort": [{"field": "Close Date", "direction": "asc"}],
        },
        {"id": gen.id("viw"), "name": "Pipeline board", "type": "kanban"},
    ]
    companies["views"] = [{"id": gen.id("viw"), "name": "All companies", "type": "grid"}]
    activities["views"] = [
        {"id": gen.id("viw"), "name": "All activities", "type": "grid"},
        {"id": gen.id("viw"), "name": "Calendar", "type": "calendar"},
    ]
    return {
        "id": CRM_BASE_ID,
        "name": "Acme Sales CRM",
        "permission_level": "create",
        "tables": [companies, contacts, deals, activities],
    }


def build_roadmap(gen: Generator) -> dict[str, Any]:
    """The "Product Roadmap" base."""
    rng = gen.rng
    projects: dict[str, Any] = {
        "id": gen.id("tbl"),
        "name": "Projects",
        "description": "Roadmap items",
    }
    tasks: dict[str, Any] = {"id": gen.id("tbl"), "name": "Tasks"}
    projects["fields"] = gen.fields(
        [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Status", "type": "singleSelect", "options": {"choices": PROJECT_STATUSES}},
            {"name": "Priority", "type": "singleSelect", "options": {"choices": PRIORITIES}},
            {"name": "Start", "type": "date"},
            {"name": "Due", "type": "date"},
            {"name": "Budget", "type": "currency", "options": {"precision": 0}},
            {"name": "Lead", "type": "singleCollaborator"},
            {
                "name": "Tasks",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": tasks["id"]},
            },
            {"name": "Task Count", "type": "count", "options": {"recordLinkFieldId": "Tasks"}},
            {
                "name": "Hours Estimated",
                "type": "rollup",
                "options": {
                    "recordLinkFieldId": "Tasks",
                    "fieldIdInLinkedTable": "Estimate",
                    "formula": "SUM(values)",
                },
            },
            {
                "name": "Overdue",
                "type": "formula",
                "options": {"formula": "AND({Status} != 'Done', IS_BEFORE({Due}, TODAY()))"},
            },
        ]
    )
    tasks["fields"] = gen.fields(
        [
            {"name": "Name", "type": "singleLineText"},
            {
                "name": "Project",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": projects["id"], "prefersSingleRecordLink": True},
            },
            {"name": "Status", "type": "singleSelect", "options": {"choices": TASK_STATUSES}},
            {"name": "Assignee", "type": "singleCollaborator"},
            {"name": "Estimate", "type": "number", "options": {"precision": 1}},
            {"name": "Done", "type": "checkbox"},
            {"name": "Due", "type": "date"},
            {"name": "Tags", "type": "multipleSelects", "options": {"choices": TASK_TAGS}},
        ]
    )
    project_rows: list[dict[str, Any]] = []
    for name in PROJECT_NAMES:
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(300))
        project_rows.append(
            {
                "Name": name,
                "Status": rng.choice(PROJECT_STATUSES),
                "Priority": rng.choice(PRIORITIES),
                "Start": start.isoformat(),
                "Due": (start + timedelta(days=rng.randint(30, 180))).isoformat(),
                "Budget": rng.randrange(10, 300) * 1000,
                "Lead": {"id": rng.choice(SALES_REPS)},
            }
        )
    projects["records"] = gen.records(project_rows, START, 200)
    project_ids = [r["id"] for r in projects["records"]]
    task_rows: list[dict[str, Any]] = []
    for _ in range(200):
        status = rng.choice(TASK_STATUSES)
        row = {
            "Name": f"{rng.choice(TASK_VERBS)} {rng.choice(TASK_OBJECTS)}",
            "Project": [rng.choice(project_ids)],
            "Status": status,
            "Estimate": rng.choice([0.5, 1, 2, 3, 4, 6, 8, 12, 16]),
            "Done": status == "Done",
            "Due": gen.day(date(2024, 2, 1), 400),
            "Tags": sorted(rng.sample(TASK_TAGS, rng.randint(1, 2)), key=TASK_TAGS.index),
        }
        if rng.random() < 0.85:
            row["Assignee"] = {"id": rng.choice(SALES_REPS)}
        task_rows.append(row)
    tasks["records"] = gen.records(task_rows, START + timedelta(days=10), 300)
    tasks["views"] = [
        {"id": gen.id("viw"), "name": "All tasks", "type": "grid"},
        {
            "id": gen.id("viw"),
            "name": "Open tasks",
            "type": "grid",
            "filterByFormula": "NOT({Done})",
            "sort": [{"field": "Due", "direction": "asc"}],
        },
    ]
    projects["views"] = [{"id": gen.id("viw"), "name": "Roadmap", "type": "grid"}]
    return {
        "id": ROADMAP_BASE_ID,
        "name": "Product Roadmap",
        "permission_level": "create",
        "tables": [projects, tasks],
    }


def build_demo_seed() -> dict[str, Any]:
    """The complete demo seed."""
    gen = Generator()
    crm = build_crm(gen)
    roadmap = build_roadmap(gen)
    return {
        "tokens": [
            {
                "token": DEMO_TOKEN,
                "user_id": USERS[0]["id"],
                "email": USERS[0]["email"],
                "name": USERS[0]["name"],
                "bases": [CRM_BASE_ID, ROADMAP_BASE_ID],
                "scopes": [
                    "data.records:read",
                    "data.records:write",
                    "data.recordComments:read",
                    "data.recordComments:write",
                    "schema.bases:read",
                    "schema.bases:write",
                    "webhook:manage",
                    "user.email:read",
                ],
            },
            {
                "token": DEMO_READ_TOKEN,
                "user_id": USERS[1]["id"],
                "email": USERS[1]["email"],
                "name": USERS[1]["name"],
                "bases": [CRM_BASE_ID, ROADMAP_BASE_ID],
                "scopes": ["data.records:read", "schema.bases:read", "data.recordComments:read"],
            },
        ],
        "users": USERS,
        "bases": [crm, roadmap],
    }


def render(seed: dict[str, Any]) -> str:
    """JSON with one record per line: readable diffs without doubling the file size."""
    placeholders: dict[str, list[dict[str, Any]]] = {}
    skeleton = json.loads(json.dumps(seed))
    for base in skeleton["bases"]:
        for table in base["tables"]:
            key = f"@@records:{table['id']}@@"
            placeholders[key] = table["records"]
            table["records"] = key
    text = json.dumps(skeleton, indent=2, ensure_ascii=False)
    for key, records in placeholders.items():
        indent = " " * 10
        lines = ",\n".join(indent + json.dumps(r, ensure_ascii=False) for r in records)
        text = text.replace(json.dumps(key), "[\n" + lines + "\n" + " " * 8 + "]")
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``demo.json``, or with ``--check`` verify it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if demo.json is stale")
    args = parser.parse_args(argv)
    text = render(build_demo_seed())
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale; run python -m pyairtable_ui.emulator.seeds.make_demo")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
