"""Triggers: webhooks, schedules and events start executions of active workflows."""
