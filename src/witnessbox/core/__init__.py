"""Dependency-free kernel: ids, clock, errors, the acting party."""
