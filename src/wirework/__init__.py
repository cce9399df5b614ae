"""Wirework: workflow automation (workflows, triggers, durable executions, credentials), on
SQLite, PostgreSQL or MySQL/MariaDB. Bots, knowledge bases and team tools are planned, not here yet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wirework")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
