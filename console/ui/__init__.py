"""console.ui package."""
