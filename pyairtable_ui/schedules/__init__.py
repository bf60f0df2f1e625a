"""Scheduled prompts: questions the agent answers on a recurrence, headless, for their owner."""
