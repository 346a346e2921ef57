"""The audit trail: append-only, hash-chained, checkpointed with a signature."""
