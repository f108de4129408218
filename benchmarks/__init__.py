"""Benchmarks: the kit measured against the blueprint's tools in the same run.

Run ``python -m benchmarks --help``; results and method are in ``benchmarks/README.md``.
"""
