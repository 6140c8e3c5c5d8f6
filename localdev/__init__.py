"""Local development stand-ins: Azurite, the Graph/identity emulator and a local Functions host.

Nothing in this package is deployed (see .funcignore); everything it starts listens on 127.0.0.1.
"""
