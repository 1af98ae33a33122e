"""Causal effective resistance (``tgnn.theory``): resistances for directed acyclic attention graphs.

The specification is ``THEORY.md`` of the project; ``docs/theory.md`` explains it.
"""
