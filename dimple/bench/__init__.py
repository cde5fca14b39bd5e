"""Dimple-Tiny's benchmark: `python -m dimple.cli bench` (sweep.py) and its tables and plots (plots.py)."""
