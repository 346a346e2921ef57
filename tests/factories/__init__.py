"""Test data builders: recordings from the simulator, registered cameras and docks."""
