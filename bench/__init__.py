"""The benchmarks of the broker against the local world (Azurite, the Graph emulator, the local host): ``bench.run``
(latency, memory, concurrency), ``bench.compare`` (side by side with msgraph-sdk), ``bench.reliability`` (nothing
lost) and ``bench.callbacks`` (result callbacks under a flaky receiver, and their throughput). See bench/README.md."""
