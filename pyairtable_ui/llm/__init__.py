"""The one gateway to the LLM provider: only this package imports litellm.

`client` streams one model call (`ModelCall`, `open_reply_stream`) and prices it
(`estimate_cost`); `errors` turns what the provider raised into a sentence for the
user and a log line. litellm is large and slow to import, so importing the app
does not import it: a process's first model call loads it (see `loading`).
"""
