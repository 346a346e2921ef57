"""Cameras, docks and who had which camera when."""
