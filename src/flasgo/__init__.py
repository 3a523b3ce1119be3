"""Flasgo."""
