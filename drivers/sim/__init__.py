"""drivers.sim package."""
