"""Modal screens of the control center, one per module."""
