"""Grid-area simulator: physics model and the OPC-UA server that publishes it."""
