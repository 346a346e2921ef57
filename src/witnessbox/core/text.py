"""Rules about text that request schemas state, so the API's description says what the services check."""

# A character that is not white space by Python's str.strip() (which also strips \x1c-\x1f and \x85,
# unlike JSON Schema's \s): a field with this pattern is not blank once stripped.
BLANK = r"[\s\x1c-\x1f\x85]"
NON_BLANK = r"[^\s\x1c-\x1f\x85]"
