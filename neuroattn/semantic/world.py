"""What the tensor brain's scene training and evaluation need from a world.

A world of scenes, individuals and facts, such as the synthetic
:class:`~neuroattn.datasets.synthetic.tb_shapes.TBShapes`, brings its own
vocabulary: the model package never imports a generator's constants. Any
object with these members can be trained on (:func:`~neuroattn.semantic.
scene_training.fit_tensor_brain`) and evaluated
(:mod:`~neuroattn.semantic.scene_eval`).

Examples
--------
>>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
>>> isinstance(make_tb_shapes(TBShapesConfig.ci()), SceneWorld)
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["SceneWorld"]


@runtime_checkable
class SceneWorld(Protocol):
    """A world of scenes for the tensor brain (structural type; see the module docstring).

    Attributes
    ----------
    attributes : dict of str to numpy.ndarray
        Per-individual value index of each label group.
    twins : numpy.ndarray, shape (n_pairs, 2)
        Individuals that look alike (the same visual labels).
    friends : numpy.ndarray, shape (F, 2)
        ``(subject, object)`` pairs of the memory-only predicate.
    train, test_known, test_novel
        Scene splits: ``images``, ``individuals``, ``boxes``, ``relations``,
        ``n_scenes`` and ``pairs()``.
    n_individuals : int
    predicate_names, label_groups, perception_label_groups : tuple of str
        The vocabulary: every predicate, every label group, and the label groups
        that perception is trained to read.
    memory_predicate : str
        The predicate no image shows (known from semantic memory only).
    """

    attributes: dict[str, np.ndarray]
    twins: np.ndarray
    friends: np.ndarray
    train: Any
    test_known: Any
    test_novel: Any

    @property
    def n_individuals(self) -> int: ...

    @property
    def predicate_names(self) -> tuple[str, ...]: ...

    @property
    def label_groups(self) -> tuple[str, ...]: ...

    @property
    def perception_label_groups(self) -> tuple[str, ...]: ...

    @property
    def memory_predicate(self) -> str: ...

    def scenes(self, split: str) -> Any: ...

    def group_sizes(self) -> dict[str, int]: ...

    def is_twin(self) -> np.ndarray: ...
