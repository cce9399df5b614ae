"""Bots and conversations: bots with configuration, memories and chat commands; sessions and
messages; receiving a message from any channel (web chat, REST, the platform adapters in
`channels/`), routing it to a command, a waiting `chat.ask` or the bot's dialog workflow, and
delivering replies with retries. Knows the engine only through `engine.executions`."""
