"""Conformance suite of the Airtable emulator (tests/fakes/airtable)."""
