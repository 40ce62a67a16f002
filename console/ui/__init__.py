"""Windows, docks and dialogs: compose widgets and bind them to services."""
