"""Run by test_ddp.py under torchrun: the real CLI, recording what each rank saw and ended with.

With ``NEUROATTN_TEST_KILL_AFTER_EPOCH=K`` in the environment, rank 0 SIGKILLs
itself right after the checkpoint of epoch K (tests/faults: a killed run resumes).
"""

import json
import os
import signal
import sys
from pathlib import Path

import torch

import neuroattn.train_ieeg.runner as run_module
from neuroattn.train_ieeg.cli import main
from neuroattn.training import distributed

original_fit = run_module.Trainer.fit
original_end_epoch = run_module.Trainer._end_epoch


def fit_and_record(self, loader, *, resume=False):
    summary = original_fit(self, loader, resume=resume)
    rank = distributed.rank()
    seen = [[int(i) for block in lo.sampler.plan()[1] for i in block] for lo in loader.loaders]
    probe = Path(sys.argv[1])
    (probe / f"windows{rank}.json").write_text(json.dumps(seen))
    torch.save(self.module.state_dict(), probe / f"weights{rank}.pt")
    return summary


def end_epoch_then_die(self, scheduler):
    original_end_epoch(self, scheduler)
    if self.main and self.epoch == int(os.environ["NEUROATTN_TEST_KILL_AFTER_EPOCH"]):
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    run_module.Trainer.fit = fit_and_record
    if "NEUROATTN_TEST_KILL_AFTER_EPOCH" in os.environ:
        run_module.Trainer._end_epoch = end_epoch_then_die
    sys.exit(main(sys.argv[2:]))
