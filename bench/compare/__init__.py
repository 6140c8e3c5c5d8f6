"""The broker side by side with msgraph-sdk, ``python -m bench.compare`` (command.py); see bench/README.md."""
