"""Accounts and tenancy: organizations, users, memberships, logins, API keys, preferences."""
