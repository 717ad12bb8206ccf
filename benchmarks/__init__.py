"""Benchmarks of the hot paths (``python benchmarks/run.py``)."""
