"""Agents working on the user's git repository: the engine's repository, clones, checkpoints."""
