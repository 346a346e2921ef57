"""Criminal disclosure schedules (MG6C, MG6D): every recording in a case, with the officer's decision."""
