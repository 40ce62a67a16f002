"""drivers.opcua package."""
