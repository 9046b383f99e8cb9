"""``python -m neuroattn.train_ieeg``: pretrain, fine-tune and evaluate MVPFormer on iEEG.

The command line is a thin layer over :func:`run`, which notebooks can call
directly with a :class:`RunConfig`.

Examples
--------
>>> from neuroattn.train_ieeg import RunConfig
>>> cfg = RunConfig(mode="evaluate")
>>> cfg.detection.threshold
0.5
"""

from neuroattn.train_ieeg.cli import main
from neuroattn.train_ieeg.config import RunConfig
from neuroattn.train_ieeg.runner import run

__all__ = ["RunConfig", "main", "run"]
