"""`make bench`: HybridFlow measured on this machine, in one run, on a stack
of its own (python -m bench.run). See docs/benchmarks.md for the latest
figures and bench/run.py for what each phase does."""
