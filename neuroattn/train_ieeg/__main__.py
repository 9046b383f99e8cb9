"""``python -m neuroattn.train_ieeg`` (see :mod:`neuroattn.train_ieeg.cli`)."""

from neuroattn.train_ieeg.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
