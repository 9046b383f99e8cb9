"""The tensor brain (Tresp et al.): perception, episodic and semantic memory as decoding.

It holds the knowledge-graph embeddings that the tensor brain is
measured against (:mod:`neuroattn.semantic.kg`): :class:`RESCAL`,
:class:`DistMult`, :class:`ComplEx` and :class:`PopularityBaseline`, trained by
:func:`fit_kg` (the fitter of every KG scorer, on the package's training loop) and scored
with filtered ranks by :func:`link_prediction_metrics` and
:func:`relation_prediction_metrics`.

The tensor brain's core: :class:`ConceptBank` (the index layer, one shared embedding matrix
for bottom-up scoring and top-down feedback, in :mod:`neuroattn.semantic.concepts`),
:class:`TensorBrainDecoder` running a :class:`DecodingProgram` of concept windows with a
:class:`ContextRecurrence` (:mod:`neuroattn.semantic.decoder`), and
:class:`EpisodicMemory` / :class:`SemanticMemory` (:mod:`neuroattn.semantic.memory`).
:class:`TensorBrainKG` (:mod:`neuroattn.semantic.kg_decoder`, also trained by :func:`fit_kg`)
runs the decoder in semantic-memory mode as a knowledge-graph scorer, and
:func:`search_kg_model` gives it and every baseline the same validation-selected search over a
:class:`KGSearchSpace` (:mod:`neuroattn.semantic.kg_search`).
:class:`TensorBrainPerception` (:mod:`neuroattn.semantic.perception`) puts a CNN with
RoI-aligned boxes in front of the decoder; :func:`fit_tensor_brain` trains perception,
episodic and semantic recall together on the TB-Shapes world
(:mod:`neuroattn.semantic.scene_training`) and :func:`evaluate_perception`,
:func:`evaluate_episodic` and :func:`evaluate_semantic` score it
(:mod:`neuroattn.semantic.scene_eval`).

Examples
--------
>>> from neuroattn.semantic import ComplEx
>>> ComplEx(10, 3, dim=4).score_tails([0], [2]).shape
torch.Size([1, 10])
"""

from neuroattn.semantic.concepts import ConceptBank
from neuroattn.semantic.decoder import (
    ContextRecurrence,
    Decoding,
    DecodingProgram,
    TensorBrainDecoder,
    Window,
)
from neuroattn.semantic.kg import (
    RESCAL,
    ComplEx,
    DistMult,
    KGModel,
    PopularityBaseline,
    filtered_ranks,
    fit_kg,
    link_prediction_metrics,
    rank_metrics,
    relation_prediction_metrics,
)
from neuroattn.semantic.kg_decoder import TensorBrainKG
from neuroattn.semantic.kg_search import KGSearchResult, KGSearchSpace, search_kg_model
from neuroattn.semantic.memory import EpisodicMemory, SemanticMemory
from neuroattn.semantic.perception import SceneEncoder, TensorBrainPerception
from neuroattn.semantic.scene_eval import (
    evaluate_episodic,
    evaluate_perception,
    evaluate_semantic,
)
from neuroattn.semantic.scene_training import fit_tensor_brain
from neuroattn.semantic.world import SceneWorld

__all__ = ["RESCAL", "ComplEx", "DistMult", "KGModel", "PopularityBaseline", "filtered_ranks",
           "fit_kg", "link_prediction_metrics", "rank_metrics",
           "relation_prediction_metrics",
           "ConceptBank", "ContextRecurrence", "Decoding", "DecodingProgram", "EpisodicMemory",
           "SemanticMemory", "TensorBrainDecoder", "Window",
           "TensorBrainKG", "KGSearchResult", "KGSearchSpace",
           "search_kg_model",
           "SceneEncoder", "TensorBrainPerception", "evaluate_episodic", "evaluate_perception",
           "evaluate_semantic", "fit_tensor_brain", "SceneWorld"]
