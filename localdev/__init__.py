"""Local development stand-ins: Azurite (``azurite``), the Graph/Entra/identity emulator (the ``emulator`` package), a
local Functions host (``host`` and its ``host_*`` parts), and their composition (``world.LocalWorld``) used by
``python -m localdev run``, the end-to-end tests and the benchmarks.

Nothing in this package is deployed (see .funcignore); everything it starts listens on 127.0.0.1.
"""
