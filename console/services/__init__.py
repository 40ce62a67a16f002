"""console.services package."""
