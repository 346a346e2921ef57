"""Disclosure: outside recipients and their portal, disclosure packages, schedules, the verifier."""
