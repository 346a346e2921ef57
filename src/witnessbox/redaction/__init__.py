"""Redaction: plans of what to hide in a recording, face detection, the editor, redacted copies."""
