"""Benchmarks of the non-functional targets in PRODUCT.md §6.

Each module runs alone (``python -m benchmarks.<name>`` from the repository root), prints
a compact table and a one-line verdict, and exits 0 even when a target is missed: these
are measurements, not gates. ``make benchmark`` runs them all; see ``benchmarks/README.md``.
"""
