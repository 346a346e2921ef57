"""Retention: the schedule, holds, the deletion path (review, recycle, purge) and subject access requests."""
