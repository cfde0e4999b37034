"""Bench mode: the flow's floor endpoint and per-request server timing (never in production).

With `HUIBAO_BENCH_FLOOR=1` the server answers `/api/bench/floor/…` (the least a recorded step
must do, for `python -m bench issue` to measure beside the real flow) and every response carries
a `Server-Timing` header with its in-process time and SQL statements (`timing.py`). The settings
refuse it with `DEBUG` off unless `HUIBAO_ALLOW_BENCH_FLOOR=1` says so (`config.py`).
"""
