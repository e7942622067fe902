"""The panels of the main screen, one per module."""
