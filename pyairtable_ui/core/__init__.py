"""Infrastructure every feature stands on: settings, database, Redis, crypto, mail, errors, logs.

Nothing in this package imports a feature package (auth, airtable, chat, actions, ...);
the import-linter contracts in `pyproject.toml` hold it to that.
"""
