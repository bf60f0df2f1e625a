#!/usr/bin/env bash
# Runs the whole suite: once with the embedded defaults (SQLite, state in memory), then
# again against the local PostgreSQL and Redis when they answer.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium from Debian for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "Chromium is missing and cannot be installed here: browser tests will be skipped"
  fi
fi

# Pass 1 runs under coverage.py, which also measures every Python process the tests
# start (the app under test and its workers; pyproject.toml [tool.coverage.run]).
# PYAIRTABLE_UI_COVERAGE=0 runs it without.
measure="${PYAIRTABLE_UI_COVERAGE:-1}"
pass1=(python -m pytest)
if [ "$measure" != 0 ]; then
  rm -rf .coverage-data
  pass1=(python -m coverage run -m pytest)
fi

# pytest exits non-zero on failures and also with 5 when it collected no test,
# so an empty run cannot pass silently.
say "test pass 1/2: SQLite, Reflex state in memory$([ "$measure" != 0 ] && echo ', coverage measured')"
(
  unset REDIS_URL DATABASE_URL TEST_DATABASE_URL
  PYAIRTABLE_UI_TEST_PASS=embedded "${pass1[@]}" -p no:cacheprovider "$@"
)
rc1=$?

rc2=0
if python -m pyairtable_ui.manage services-available; then
  # A Redis database of this run's own: another run on the machine (a second clone, CI)
  # must not share its login limits, Airtable pacing or schema cache.
  if ! redis_db="${TEST_REDIS_URL:-$(python -m tests.support.redis_claim claim redis://127.0.0.1:6379)}"; then
    say "could not claim a Redis database for pass 2"
    exit 1
  fi
  say "test pass 2/2: PostgreSQL at 127.0.0.1:5432 and Redis at $redis_db"
  PYAIRTABLE_UI_TEST_PASS=services \
    TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}" \
    REDIS_URL="$redis_db" \
    python -m pytest -p no:cacheprovider -m "not fake_only" "$@"
  rc2=$?
  [ -n "${TEST_REDIS_URL:-}" ] || python -m tests.support.redis_claim release "$redis_db"
else
  say "test pass 2/2 SKIPPED: PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) did not answer"
fi

if [ "$measure" != 0 ]; then
  say "coverage (test pass 1/2)"
  # The floor is enforced only when the whole suite ran: a chosen subset covers less.
  enforce=()
  [ $# -eq 0 ] && enforce=(--enforce)
  python scripts/coverage_summary.py "test pass 1/2 (SQLite, state in memory)" "${enforce[@]}"
  rc_cov=$?
  # A pass that failed has its own message; only a short total is news of its own.
  [ $rc_cov -eq 2 ] && [ $rc1 -eq 0 ] && rc1=1
fi

if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
  say "tests FAILED (pass 1: exit $rc1, pass 2: exit $rc2)"
  exit 1
fi
say "all tests passed"
