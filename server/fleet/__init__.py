"""Servers as processes: one started and stopped from Python, and a fleet of them on one machine."""
