"""Simulated market participants as API clients: one process for the fleet, each household with its own key
(``energynet sim traders``; docs/market.md "Simulated participants")."""
