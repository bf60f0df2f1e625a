"""Plain HTTP routes mounted on the Reflex backend: health, metrics, session cookie."""
