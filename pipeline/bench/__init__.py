"""Benchmarks: a seeded corpus generator, runs of the pipeline over it, and their measurements."""
