"""Benchmarks of the broker against the local world (Azurite, the Graph emulator, the local host).

Run ``python -m bench.run``; see bench/README.md.
"""
