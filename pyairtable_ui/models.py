"""Every table of the app, imported in one place for Alembic's metadata."""

from sqlmodel import SQLModel

from pyairtable_ui.actions.models import Action, ActionStep
from pyairtable_ui.airtable.models import AirtableConnection, AirtableUsage
from pyairtable_ui.auth.models import AuthToken, Invite, User, UserSession
from pyairtable_ui.chat.models import Conversation, Message
from pyairtable_ui.core.instance_settings import InstanceSetting
from pyairtable_ui.schedules.models import Schedule, ScheduleRun

metadata = SQLModel.metadata

__all__ = [
    "Action",
    "ActionStep",
    "AirtableConnection",
    "AirtableUsage",
    "AuthToken",
    "Conversation",
    "InstanceSetting",
    "Invite",
    "Message",
    "Schedule",
    "ScheduleRun",
    "User",
    "UserSession",
    "metadata",
]
