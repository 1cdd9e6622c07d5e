"""Benchmarks of CLOSP Explorer: scripts that write their tables into BENCHMARKS.md.

Run them all with `python -m bench.run_all`; each also runs alone (`python -m bench.<name> -h`).
"""
