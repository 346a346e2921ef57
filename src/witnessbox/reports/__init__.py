"""Statistics and dashboards: what supervisors and managers chase."""
