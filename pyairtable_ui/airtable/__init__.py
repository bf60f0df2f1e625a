"""Everything that talks to Airtable: connections, the rate-limited client, schema cache."""
