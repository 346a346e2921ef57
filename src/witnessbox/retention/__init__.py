"""Retention: the schedule, holds, the deletion path, subject access requests and the integrity scrub."""
