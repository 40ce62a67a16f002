"""Report KPIs computed on arrays of samples (pure: numpy, no I/O).

Each module takes time stamps (POSIX s) and SI values as numpy arrays, oldest first, and returns frozen
values the report service renders: :mod:`stability` (frequency bands and events, EN 50160 voltage),
:mod:`energy` (production and consumption per participant), :mod:`economics` (savings against the grid
tariff, carbon avoided, efficiency).
"""
