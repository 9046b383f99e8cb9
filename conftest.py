"""Run by pytest for every test and doctest: one torch thread per pytest-xdist worker.

The README runs the suite as ``pytest -n auto --dist worksteal`` (one worker
per core, idle workers take queued tests from busy ones). Each
worker then keeps to one torch thread; workers with torch's default (every
core each) would oversubscribe the machine and slow each other many times over.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"      # also for the subprocesses tests start
    import torch

    torch.set_num_threads(1)
