"""Security foundations: passwords, tokens, the vault for secrets at rest, rate limits."""
