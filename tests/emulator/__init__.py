"""Conformance suite of the Airtable emulator (pyairtable_ui/emulator)."""
