"""Run by test_ddp.py under torchrun: the real CLI, recording what each rank saw and ended with."""

import json
import sys
from pathlib import Path

import torch

import neuroattn.train_ieeg.runner as run_module
from neuroattn.train_ieeg.cli import main
from neuroattn.training import distributed

original_fit = run_module.Trainer.fit


def fit_and_record(self, loader, *, resume=False):
    summary = original_fit(self, loader, resume=resume)
    rank = distributed.rank()
    seen = [[int(i) for block in lo.sampler.plan()[1] for i in block] for lo in loader.loaders]
    probe = Path(sys.argv[1])
    (probe / f"windows{rank}.json").write_text(json.dumps(seen))
    torch.save(self.module.state_dict(), probe / f"weights{rank}.pt")
    return summary


if __name__ == "__main__":
    run_module.Trainer.fit = fit_and_record
    sys.exit(main(sys.argv[2:]))
