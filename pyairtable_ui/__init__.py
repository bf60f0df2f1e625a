"""PyAirtable UI: talk to your Airtable data through an LLM, with every write previewed."""
