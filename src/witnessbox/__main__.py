"""`python -m witnessbox` runs the command line."""

from witnessbox.cli import app

app()
