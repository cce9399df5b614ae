"""Database layer: engine and sessions, the declarative Base, portable column types, migrations."""
