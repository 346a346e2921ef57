"""Cases: sets of items for an investigation or a complaint, their members and restrictions."""
