"""Retention: schedules, holds, the deletion path, and integrity scrubbing of stored evidence."""
