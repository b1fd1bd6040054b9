//! Benchmarks live in `benches/`; scripts for load tests in `bench/`.
