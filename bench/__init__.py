"""Benchmarks (`make bench`); their results are in docs/benchmarks*.md."""
