"""The run config of ``python -m neuroattn.train_ieeg``: one YAML file, every field optional.

A run is described by :class:`RunConfig`. ``--config FILE.yaml`` loads one
(``yaml.safe_load``; unknown keys fail with the list of valid ones),
command-line flags override it, and ``--set a.b=c`` overrides anything last.
Every numeric field is checked against its range when the config is loaded
(a :class:`~neuroattn.config.ConfigError` names the field, the value and the
range). The resolved config is saved as ``<out-dir>/config.yaml``, so every
run can be repeated with ``--config <out-dir>/config.yaml``.

Examples
--------
>>> from neuroattn.config import apply_overrides
>>> from neuroattn.train_ieeg.config import RunConfig
>>> cfg = apply_overrides(RunConfig(), ["finetune.method=full", "train.lr=3e-4",
...                                    "evaluation.max_fa_per_hour=2"])
>>> cfg.finetune.method, cfg.train.lr, cfg.detection.smooth_windows, cfg.evaluation.all_budgets()
('full', 0.0003, 3, [0.5, 1.0, 2.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from neuroattn.config import in_range
from neuroattn.ieeg.evaluation import BUDGETS, DetectionRule
from neuroattn.training.loop import TrainConfig

Mode = Literal["pretrain", "finetune", "evaluate"]


@dataclass
class DataConfig:
    """Where the windows come from and how recordings are split.

    Recordings are grouped by patient: the store's ``subject`` attribute, or
    its file name without ``.zarr`` when it has none. Splits are by patient,
    never by window, so no patient is in two splits.
    """

    stores: list[str] = field(default_factory=list)
    #: Segments per window; default 8 for the tiny preset, 25 (125 s) for S and M.
    window_segments: int | None = in_range(None, low=1)
    #: Hop between windows, in segments (1 = one decision per segment, as the reference).
    stride_segments: int = in_range(1, low=1)
    val_patients: list[str] = field(default_factory=list)
    test_patients: list[str] = field(default_factory=list)
    #: Fraction of training patients held out for validation when ``val_patients`` is empty.
    val_fraction: float = in_range(0.0, low=0, high=1, high_open=True)
    #: At most this many channels per recording (and never more than the model takes).
    max_channels: int = in_range(128, low=1)
    #: Resampled copies of stores whose rate differs from the model's (default <out_dir>/cache).
    cache_dir: str | None = None
    batch_size: int = in_range(32, low=1)
    num_workers: int = in_range(0, low=0)


@dataclass
class ModelConfig:
    """Which MVPFormer: a preset name, a ``save_pretrained`` directory, a run directory
    (its ``model/``), or an IBM/braindecode checkpoint file."""

    name: str = "tiny"
    dropout: float | None = in_range(None, low=0, high=1, high_open=True)


@dataclass
class PretrainConfig:
    """Contrastive next-segment prediction (the reference's generative objective)."""

    num_negatives: int = in_range(30, low=1)
    temperature: float = in_range(0.1, low=0, low_open=True)


@dataclass
class FinetuneConfig:
    """Seizure detection: LoRA (frozen base, the reference recipe) or full fine-tuning.

    Class imbalance (seizures are rare) is handled by ``balance``:
    ``"weights"`` weighs the cross-entropy by inverse class frequency in the
    training windows; ``"sampler"`` draws seizure and non-seizure windows
    equally often (random access, slower from disk); ``"none"`` does neither.
    ``shuffle_labels`` is the chance control: the same run with permuted
    training and validation labels (so not even the choice of the best epoch
    sees a real label) must score near chance on held-out patients.
    """

    method: Literal["lora", "full"] = "lora"
    lora_rank: int = in_range(8, low=1)
    lora_alpha: float = in_range(16.0, low=0, low_open=True)
    balance: Literal["weights", "sampler", "none"] = "weights"
    #: Control run: permute the training and validation labels (the test keeps its own).
    shuffle_labels: bool = False


@dataclass
class EvaluationConfig:
    """How the detectors are held to a false-alarm budget and reported.

    ``finetune`` chooses the alarm rule's threshold (and smoothing, among
    ``smooth_options``) on the validation patients, for ``max_fa_per_hour``
    and for every budget of ``budgets``, and stores them in
    ``operating_point.json``; the test patients are then scored with these
    rules, never tuned on. ``baselines`` are fitted on the training
    patients and go through the same procedure (``None``: the line-length
    baseline in ``finetune``, none in ``evaluate``; ``[]``: none).
    ``format="szcore"`` also writes each test recording's detections as a
    SzCORE ``szcore/<recording>_events.tsv``.
    """

    #: The false-alarm budget (per hour) of the main results.
    max_fa_per_hour: float = in_range(1.0, low=0, low_open=True)
    #: Further budgets reported (sensitivity at each, with its own validation threshold).
    budgets: list[float] = in_range(low=0, low_open=True, default_factory=lambda: list(BUDGETS))
    #: Moving-average lengths to choose from (default: ``detection.smooth_windows`` only).
    smooth_options: list[int] = in_range(low=1, default_factory=list)
    baselines: list[str] | None = None
    format: Literal["default", "szcore"] = "default"

    def all_budgets(self) -> list[float]:
        """``budgets`` and ``max_fa_per_hour``, sorted, each once."""
        return sorted({float(b) for b in [*self.budgets, self.max_fa_per_hour]})


@dataclass
class RunConfig:
    """Everything one ``train_ieeg`` run needs (see the module docstring)."""

    mode: Mode = "finetune"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    detection: DetectionRule = field(default_factory=DetectionRule)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    out_dir: str = "runs/ieeg"
    log: Literal["csv", "tensorboard"] = "csv"
