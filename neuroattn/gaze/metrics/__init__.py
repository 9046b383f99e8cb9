"""Scanpath and saliency metrics, vectorised over many scanpath pairs or maps.

* :mod:`~neuroattn.gaze.metrics.sequence` — string edit distance, sequence
  score (with the human-comparison protocol pinned) and ScanMatch;
* :mod:`~neuroattn.gaze.metrics.multimatch_similarity` — MultiMatch's five
  dimensions, batched; agrees with ``multimatch-gaze`` wherever it scores;
* :mod:`~neuroattn.gaze.metrics.semantic` — SemSS, the sequence score on the
  semantic labels under the fixations;
* :mod:`~neuroattn.gaze.metrics.behavioural` — OAT's behavioural measures of
  visual search and their model–human delta;
* :mod:`~neuroattn.gaze.metrics.protocol` — the model-vs-human pairing of
  trials and the per-trial means every pairwise comparison uses;
* :mod:`~neuroattn.gaze.metrics.saliency` — NSS, AUC-Judd, CC, SIM and KL on
  saliency maps.

Each module's docstring states its coordinate and normalisation conventions.

Examples
--------
>>> from neuroattn.gaze.metrics import behaviour_summary, sequence_scores
>>> sequence_scores([[0, 1, 2], [0, 1, 2]], [[0, 1, 2], [2, 1, 0]])
array([1.        , 0.33333333])
>>> behaviour_summary([[0, 1, 1, 2]], targets=[2])["refix"]
0.25
"""

from __future__ import annotations

from neuroattn.gaze.metrics.behavioural import (
    BEHAVIOUR_KEYS,
    behaviour,
    behaviour_summary,
    behavioural_delta,
    behaviours,
)
from neuroattn.gaze.metrics.multimatch_similarity import (
    MULTIMATCH_DIMENSIONS,
    multimatch,
    multimatch_scores,
)
from neuroattn.gaze.metrics.protocol import (
    ScanpathPairs,
    human_human_pairs,
    model_human_pairs,
    multimatch_means,
)
from neuroattn.gaze.metrics.saliency import auc_judd, cc, kl_divergence, nss, sim
from neuroattn.gaze.metrics.semantic import (
    semantic_sequence_score,
    semantic_sequence_scores,
    semantic_symbols,
)
from neuroattn.gaze.metrics.sequence import (
    cluster_centres,
    cluster_symbols,
    edit_distance,
    edit_distances,
    grid_symbols,
    scanmatch,
    scanmatch_scores,
    scanmatch_substitution_matrix,
    sequence_score,
    sequence_score_vs_humans,
    sequence_scores,
)

__all__ = [
    "BEHAVIOUR_KEYS",
    "MULTIMATCH_DIMENSIONS",
    "ScanpathPairs",
    "human_human_pairs",
    "model_human_pairs",
    "multimatch_means",
    "auc_judd",
    "behaviour",
    "behaviour_summary",
    "behavioural_delta",
    "behaviours",
    "cc",
    "cluster_centres",
    "cluster_symbols",
    "edit_distance",
    "edit_distances",
    "grid_symbols",
    "kl_divergence",
    "multimatch",
    "multimatch_scores",
    "nss",
    "scanmatch",
    "scanmatch_scores",
    "scanmatch_substitution_matrix",
    "semantic_sequence_score",
    "semantic_sequence_scores",
    "semantic_symbols",
    "sequence_score",
    "sequence_score_vs_humans",
    "sequence_scores",
    "sim",
]
