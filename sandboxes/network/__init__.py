"""Egress for sandboxes without a network: the run's filtering proxy (proxy.py), its
rules (policy.py) and the relay that reaches it from inside a container (relay.py)."""
