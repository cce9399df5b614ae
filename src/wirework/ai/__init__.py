"""AI: the model registry, LLM and embedding clients, token usage, AI-built workflows, MCP."""
