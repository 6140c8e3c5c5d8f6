"""The benchmarks of the broker against the local world (Azurite, the Graph emulator, the local host): ``bench.run``
(latency, memory, concurrency), ``bench.compare`` (side by side with msgraph-sdk) and ``bench.reliability`` (nothing
lost). See bench/README.md."""
