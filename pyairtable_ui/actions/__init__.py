"""Safe writes: every change to Airtable as a planned, previewed, logged, undoable action."""
