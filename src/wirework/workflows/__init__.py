"""Workflows: definitions and their versions, credentials, variables, templates."""
