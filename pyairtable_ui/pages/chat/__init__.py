"""`/chat`, the hero page: `page` (layout and `register_chat`), `state` (ChatState),
`parts` (a message, a tool step), `rows` (the rows shown, built without Reflex)."""
