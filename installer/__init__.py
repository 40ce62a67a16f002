"""installer package."""
