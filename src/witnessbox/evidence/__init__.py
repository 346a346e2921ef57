"""Evidence items, their originals and derivatives."""
