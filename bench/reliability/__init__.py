"""The reliability proof, ``python -m bench.reliability`` (command.py): nothing lost under faults, bursts, hostile
input and lifecycle races; see bench/README.md, "Reliability"."""
