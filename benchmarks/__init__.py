"""Benchmarks of tgnn (installed as ``tgnn.benchmarks``): one module per experiment."""
