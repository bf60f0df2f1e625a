"""The sample base: a private copy of the demo CRM and roadmap for people without Airtable.

`host` is the sample server (the Airtable emulator over one state per user's sample, saved
in the data folder); `manager` starts it on demand, once per data folder, and asks it for
a new sample or a reset. The user's connection to it is an ordinary Airtable connection
(see `pyairtable_ui.airtable.connections.connect_sample`). Only this package imports the
emulator (an import contract says so).
"""
