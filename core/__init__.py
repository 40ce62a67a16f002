"""Qt-free domain of the EnergyNet console: values, grid physics views, ports."""
