"""Benchmark of the webhook hot path and of handler cold starts (`make bench`); not a test."""
