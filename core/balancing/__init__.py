"""Balancing and emergency rules (pure): the emergency band, load-shedding stages, what the panels show."""
