"""Conversations, messages and the agent loop that answers them."""
