"""What a user reads when an action fails on the server for a reason outside the app.

Handlers report the errors they expect (a wrong password, an Airtable refusal) in
their own page. Everything else reaches Reflex's backend exception handler, and an
outage (a database that is locked or gone, a Redis that stopped answering) would
otherwise show only "An error occurred" or nothing at all. `report_backend_error`
names the failing service in a toast and logs the details under a reference the
user can quote.
"""

import logging

import redis
import reflex as rx
import sqlalchemy as sa
from reflex.event import EventSpec

from pyairtable_ui.core.observability import new_request_id

logger = logging.getLogger(__name__)

TRY_AGAIN = (
    "Nothing was changed. Try again in a minute; if it keeps happening, tell your administrator."
)

DATABASE_BUSY = "The database is busy: another program is holding it for writing. " + TRY_AGAIN
DATABASE_DOWN = "The database is not answering. " + TRY_AGAIN
REDIS_DOWN = "The server's session store (Redis) is not answering. " + TRY_AGAIN
UNEXPECTED = "Something went wrong on the server and this did not finish. " + TRY_AGAIN.replace(
    "Nothing was changed. ", ""
)


def _causes(exception: BaseException) -> list[BaseException]:
    # Reflex and libraries wrap errors; the outage is often the cause of the cause.
    chain: list[BaseException] = []
    current: BaseException | None = exception
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def describe_failure(exception: BaseException) -> str:
    """The sentence the user reads for an error no handler caught.

    Args:
        exception: What the event raised.

    Returns:
        Which service failed and what to do, or a general message.
    """
    for cause in _causes(exception):
        if isinstance(cause, redis.RedisError):
            return REDIS_DOWN
        if isinstance(cause, sa.exc.OperationalError):
            detail = str(cause.orig).lower()
            if "locked" in detail or "lock timeout" in detail or "busy" in detail:
                return DATABASE_BUSY
            return DATABASE_DOWN
        if isinstance(cause, (sa.exc.InterfaceError, sa.exc.DisconnectionError)):
            return DATABASE_DOWN
    return UNEXPECTED


def report_backend_error(exception: Exception) -> EventSpec:
    """Reflex's backend exception handler: log the error, tell the user what failed.

    Args:
        exception: What the event raised.

    Returns:
        A toast with the message and a reference that matches the log line.
    """
    reference = new_request_id()
    message = describe_failure(exception)
    logger.error(
        "an event failed (reference %s): %s",
        reference,
        exception.__class__.__name__,
        exc_info=exception,
    )
    return rx.toast.error(
        message,
        description=f"Reference: {reference}",
        id="backend_error",
        position="top-center",
        duration=15000,
        close_button=True,
    )
