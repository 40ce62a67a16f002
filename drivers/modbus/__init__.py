"""Modbus TCP field devices: declarative profiles, SunSpec discovery, polling hub."""
