"""Background jobs: persisted job rows, the huey transport, the worker."""
