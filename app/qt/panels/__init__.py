"""Docked panels of the main window, each a thin adapter over the document."""
