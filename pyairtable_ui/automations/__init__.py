"""Automations: files imported into a table as one reviewed action, tables exported to files."""
