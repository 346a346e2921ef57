"""Sharing items with colleagues and teams (and later, outside the force)."""
