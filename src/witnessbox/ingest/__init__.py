"""Resumable uploads (tus 1.0) and the ingest pipeline that makes an item playable."""
