"""Benchmarks: Flasgo against raw ASGI and its peers, in-process and over loopback."""
