"""The demo account of `make demo`: signed up, verified, onboarded on its own sample base.

Run by scripts/demo.sh after the migrations, with the demo's settings (its own database,
sample folder and SECRET_KEY): the sample token is stored encrypted under that key, as
any connection is. Idempotent: an existing demo account is kept as it is (its sample
and conversations too). Prints the email and password to sign in with.
"""

from __future__ import annotations

import sys

from pyairtable_ui.account import flows
from pyairtable_ui.auth import service
from pyairtable_ui.core.db import session_scope, utcnow

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "try the sample base"  # noqa: S105 (a demo on loopback, printed on purpose)


def main() -> int:
    """Create the demo account when missing and connect it to a sample base."""
    with session_scope() as db:
        existing = service.get_user_by_email(session=db, email=DEMO_EMAIL)
        if existing is None:
            user = service.register_user(
                session=db, email=DEMO_EMAIL, password=DEMO_PASSWORD, display_name="Demo"
            )
            user.email_verified_at = utcnow()
            db.add(user)
            db.flush()
            user_id = user.id
        else:
            user_id = existing.id
    assert user_id is not None
    if flows.onboarding_progress(user_id=user_id).token_hint == "":
        flows.start_with_sample(user_id=user_id)
        flows.finish_onboarding(user_id=user_id)
    print(f"Demo account: {DEMO_EMAIL} / password: {DEMO_PASSWORD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
