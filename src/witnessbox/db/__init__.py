"""Database: declarative base, engine, units of work, migrations."""
