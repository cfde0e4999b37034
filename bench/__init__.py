"""Huibao benchmarks: `python -m bench` lists them, `python -m bench NAME [--quick] [--db sqlite|postgres]`
runs one and prints one JSON object (figures, targets, whether each is met) as its last line."""
