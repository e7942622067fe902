"""The service layer: one command protocol for every client of a running engine.

Headless stdin, the control socket and the MCP server all hand a command (a dict,
one JSON line) to `commands.dispatch`; a new command is written once, in
`commands.py` or a module that registers with `commands.command`.
"""
