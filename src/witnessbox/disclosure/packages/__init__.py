"""Disclosure packages: a case or a selection exported as one signed, self-verifying ZIP."""
