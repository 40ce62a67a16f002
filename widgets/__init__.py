"""Reusable Qt/pyqtgraph views. They show the data they are given and know
nothing of drivers, stores or services."""
