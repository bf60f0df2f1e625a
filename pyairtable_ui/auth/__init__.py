"""Accounts, password hashing, sessions and one-time links."""
