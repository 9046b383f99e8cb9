"""OAT, the object-level attention transformer for visual search, with its baselines.

* :mod:`~neuroattn.gaze.oat.positional` — the object positional encoding and
  the offline fit of its Gaussian-similarity table;
* :mod:`~neuroattn.gaze.oat.data` — trials as OAT reads them, the token
  vocabulary (objects ``0..P-1``, EOS ``P``, PAD ``P+1``, BOS ``P+2``);
* :mod:`~neuroattn.gaze.oat.model` — the model (CNN object tokens, encoder
  without order encoding, decoder, pointer head);
* :mod:`~neuroattn.gaze.oat.training` — teacher forcing with early stopping
  on the behavioural delta;
* :mod:`~neuroattn.gaze.oat.inference` — greedy and sampled scanpaths;
* :mod:`~neuroattn.gaze.oat.baselines` — random, centre-bias, nearest-first
  and target-similarity, with the same ``generate`` interface, and the
  policy oracle (the synthetic benchmark's generating policy, the ceiling);
* :mod:`~neuroattn.gaze.oat.evaluation` — sequence score against humans,
  human-human agreement, behaviour, delta, EOS-after-target, and the share
  of the gap from the best baseline to the ceiling that a model closes.

Examples
--------
>>> from neuroattn.datasets.synthetic import make_visual_search
>>> from neuroattn.gaze.oat import OAT, make_baseline, scanpath_report
>>> data = make_visual_search(n_train=10, n_val=2, n_test=4)
>>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
...             dim_feedforward=16, pe_iterations=100, max_len=8)
>>> len(model.generate(data.test))
4
>>> base = make_baseline("centre").fit(data.train).generate(data.test)
>>> sorted(scanpath_report(base, data.test))[:3]
['correct', 'delta', 'eos_after_target']
"""

from neuroattn.gaze.oat.baselines import (
    BASELINES,
    CentreBiasBaseline,
    NearestFirstBaseline,
    PolicyOracle,
    RandomBaseline,
    ScanpathBaseline,
    TargetSimilarityBaseline,
    make_baseline,
)
from neuroattn.gaze.oat.data import (
    OATInputs,
    SearchTrials,
    as_search_trials,
    scanpath_tokens,
    vocabulary,
)
from neuroattn.gaze.oat.evaluation import (
    eos_after_target_rate,
    gap_closed,
    human_agreement,
    human_behaviour,
    scanpath_report,
)
from neuroattn.gaze.oat.inference import generate_scanpaths
from neuroattn.gaze.oat.model import OAT, OATConfig, OATMemory, PatchCNN
from neuroattn.gaze.oat.positional import (
    ObjectPositionalEncoding,
    fit_position_table,
    gaussian_similarity,
)
from neuroattn.gaze.oat.training import TrialBatches, fit_oat, teacher_forced_loss

__all__ = [
    "BASELINES", "OAT", "CentreBiasBaseline", "NearestFirstBaseline", "OATConfig", "OATInputs",
    "OATMemory", "ObjectPositionalEncoding", "PatchCNN", "PolicyOracle", "RandomBaseline",
    "ScanpathBaseline", "SearchTrials", "TargetSimilarityBaseline", "TrialBatches",
    "as_search_trials", "eos_after_target_rate", "fit_oat", "fit_position_table", "gap_closed",
    "gaussian_similarity", "generate_scanpaths", "human_agreement", "human_behaviour",
    "make_baseline", "scanpath_report", "scanpath_tokens", "teacher_forced_loss", "vocabulary",
]
