"""Performance at real scale: `python -m dimple.scale` (run.py) and the short 7B GPU check (gpu_check.py)."""
