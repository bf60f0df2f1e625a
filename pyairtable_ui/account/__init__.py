"""A person's own account once signed in: onboarding and settings, over auth, airtable, instance."""
