"""The one gateway to the LLM provider: only this package imports litellm.

`client` streams one model call (`ModelCall`, `open_reply_stream`) and prices it
(`estimate_cost`); `errors` turns what the provider raised into a sentence for the
user and a log line. litellm is large and slow to import, so importing the app
does not import it: a serving web worker loads it in the background, and a model
call that comes sooner loads it itself (see `loading`).
"""
