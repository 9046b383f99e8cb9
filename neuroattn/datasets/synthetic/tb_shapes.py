"""TB-Shapes: a world of persistent shaped individuals, for the tensor brain.

A synthetic scene world with known ground truth for perception, episodic memory and
semantic memory (reference notes ``tensor-brain.md`` §4.2):

* **Individuals.** ``n_individuals`` persistent entities, each with a fixed shape (one of
  :data:`SHAPES`), colour (one of :data:`COLOURS`) and size (small or large). Their *parent*
  class follows from the shape (round: disc and ring; angular: the rest).
  ``n_twin_pairs`` pairs of **twins** share all visual attributes, so identity is
  undecidable from an image (the right posterior is about 0.5 / 0.5); every other
  individual has a unique visual combination.
* **Memory-only labels.** Each individual has a random **age** bit (young / old): it is not
  in the pixels, only in the identity, as VRD-E's Y/O label.
* **Hidden label.** ``dangerous`` (triangles and diamonds) is taught only through semantic
  memory; no scene label carries it.
* **Non-visual relation.** ``friend_of``: each individual befriends ``n_friends`` others,
  a fixed sparse graph present only in the memory tasks.
* **Scenes (episodes).** Each scene shows 2–4 individuals on an ``S × S`` RGB canvas at
  non-overlapping positions, with size (±10 %), colour (±10/255) and pixel noise.
  Every ordered pair of objects gets the visual predicates that its geometry makes true:
  one direction (``left_of``, ``right_of``, ``above``, ``below``, along the axis of the larger
  centre offset; placements leave a margin so that the axis is never ambiguous),
  ``larger_than`` (a large subject and a small object) and ``near`` (centres closer than
  ``near_distance · S``). Oracle boxes come with the scenes, as in VRD predicate
  classification. Each training scene is its own episode (time index).
* **Splits.** ``train`` (the episodes), ``test_known`` (new scenes of the same individuals,
  the VRD-EX analogue) and ``test_novel`` (scenes of ``n_novel`` new individuals with
  combinations never seen, the VRD-E analogue).

:meth:`TBShapesConfig.ci` is the CI-sized world (200 / 50 / 50 scenes at 40 px).

Examples
--------
>>> world = make_tb_shapes(TBShapesConfig.ci())
>>> world.train.images.shape, world.n_individuals
((200, 3, 40, 40), 32)
>>> len({world.attributes["colour"][i] for i in world.twins[0]})   # twins look the same
1
>>> world.predicate_names[world.train.relations[0, 3]]
'left_of'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from neuroattn._validation import check_int, check_number, check_option
from neuroattn.datasets.synthetic.visual_search import PALETTE, SHAPES, shape_masks
from neuroattn.errors import ParameterError

__all__ = ["COLOURS", "LABELS", "PREDICATES", "SHAPES", "TBShapes", "TBShapesConfig",
           "TBShapesScenes", "make_tb_shapes"]

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "magenta", "cyan")
"""Colour names (RGB values from the visual-search palette)."""
PREDICATES: tuple[str, ...] = ("left_of", "right_of", "above", "below", "larger_than", "near",
                               "friend_of")
"""Predicates: six visual ones computed from geometry, and the memory-only ``friend_of``."""
LABELS: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "parent": ("round", "angular"),
    "colour": COLOURS,
    "size": ("small", "large"),
    "age": ("young", "old"),
    "dangerous": ("harmless", "dangerous"),
}
"""Unary label groups and their values; ``age`` is memory-only, ``dangerous`` hidden."""
VISUAL_LABELS: tuple[str, ...] = ("shape", "parent", "colour", "size")
"""The labels an image shows."""
ROUND_SHAPES = ("disc", "ring")
DANGEROUS_SHAPES = ("triangle", "diamond")
BACKGROUND = 0.45
_SIZE_FRACTIONS = (0.2, 0.3)  # object diameter / S for small and large
_AXIS_MARGIN = 0.06  # | |dx| - |dy| | >= margin * S for every pair (direction unambiguous)
_MAX_TRIES = 2000


@dataclass
class TBShapesConfig:
    """Parameters of :func:`make_tb_shapes`.

    Parameters
    ----------
    n_individuals : int
        Persistent known individuals (default 32).
    n_twin_pairs : int
        Pairs among them that look identical (default 4).
    n_novel : int
        New individuals of the ``test_novel`` split (default 8).
    n_train, n_test_known, n_test_novel : int
        Scenes per split (defaults 2000 / 500 / 500).
    image_size : int
        Canvas side ``S`` in pixels (default 64).
    objects_per_scene : tuple of int
        Inclusive range of individuals per scene (default 2–4).
    n_friends : int
        Out-degree of the ``friend_of`` graph (default 2).
    near_distance : float
        ``near`` when centres are closer than this fraction of ``S`` (default 0.35).
    size_jitter, colour_jitter, pixel_noise : float
        Relative size jitter (0.1), colour jitter (10/255) and pixel noise s.d. (0.03).
    seed : int

    Examples
    --------
    >>> TBShapesConfig.ci().n_train
    200
    >>> TBShapesConfig(n_twin_pairs=20)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: n_twin_pairs=20 needs 40 of the n_individuals=32; use ...
    """

    n_individuals: int = 32
    n_twin_pairs: int = 4
    n_novel: int = 8
    n_train: int = 2000
    n_test_known: int = 500
    n_test_novel: int = 500
    image_size: int = 64
    objects_per_scene: tuple[int, int] = (2, 4)
    n_friends: int = 2
    near_distance: float = 0.35
    size_jitter: float = 0.1
    colour_jitter: float = 10 / 255
    pixel_noise: float = 0.03
    seed: int = 0

    def __post_init__(self) -> None:
        self.objects_per_scene = tuple(self.objects_per_scene)
        self.validate()

    @classmethod
    def ci(cls, **overrides: object) -> TBShapesConfig:
        """The CI-sized world: 200 / 50 / 50 scenes on a 40 px canvas.

        Examples
        --------
        >>> TBShapesConfig.ci(seed=3).image_size
        40
        """
        params: dict[str, object] = {"n_train": 200, "n_test_known": 50, "n_test_novel": 50,
                                     "image_size": 40}
        params.update(overrides)
        return cls(**params)  # type: ignore[arg-type]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the fix if a parameter is bad."""
        check_int("n_individuals", self.n_individuals, 2)
        check_int("n_twin_pairs", self.n_twin_pairs, 0)
        if 2 * self.n_twin_pairs > self.n_individuals:
            raise ParameterError(f"n_twin_pairs={self.n_twin_pairs} needs {2 * self.n_twin_pairs} "
                                 f"of the n_individuals={self.n_individuals}; use n_twin_pairs <= "
                                 f"{self.n_individuals // 2}.")
        check_int("n_novel", self.n_novel, 0)
        n_looks = self.n_individuals - self.n_twin_pairs + self.n_novel
        n_combos = len(SHAPES) * len(COLOURS) * 2
        if n_looks > n_combos:
            raise ParameterError(f"{n_looks} distinct looks are needed but only {n_combos} "
                                 f"shape x colour x size combinations exist; use fewer "
                                 f"individuals or novel individuals.")
        for name in ("n_train", "n_test_known", "n_test_novel"):
            check_int(name, getattr(self, name), 0)
        check_int("image_size", self.image_size, 24, 512)
        lo, hi = self.objects_per_scene if len(self.objects_per_scene) == 2 else (0, -1)
        if not (isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi <= 4):
            raise ParameterError(f"objects_per_scene={self.objects_per_scene} must be (lo, hi) "
                                 f"with 2 <= lo <= hi <= 4.")
        if self.n_novel and self.n_test_novel and self.n_novel < lo:
            raise ParameterError(f"n_novel={self.n_novel} is fewer than the {lo} objects a scene "
                                 f"needs; use n_novel >= {lo} or n_test_novel=0.")
        check_int("n_friends", self.n_friends, 0, self.n_individuals - 1)
        check_number("near_distance", self.near_distance, lo=0.0, hi=1.5, strict=True)
        check_number("size_jitter", self.size_jitter, lo=0.0, hi=0.3)
        check_number("colour_jitter", self.colour_jitter, lo=0.0, hi=0.5)
        check_number("pixel_noise", self.pixel_noise, lo=0.0, hi=0.5)
        check_int("seed", self.seed, 0)


@dataclass(frozen=True)
class TBShapesScenes:
    """One split's scenes: images, objects, boxes and relation triples.

    Attributes
    ----------
    images : numpy.ndarray, shape (N, 3, S, S), float32 in [0, 1]
    individuals : numpy.ndarray, shape (N, 4), int
        Individual of each object slot (``-1`` for an empty slot). Known individuals are
        ``0 .. n_individuals-1``; novel ones follow.
    boxes : numpy.ndarray, shape (N, 4, 4), float32
        Pixel boxes ``(x1, y1, x2, y2)`` of each slot (zeros for empty slots).
    relations : numpy.ndarray, shape (M, 4), int
        One row ``(scene, subject slot, object slot, predicate)`` per true visual triple.

    Examples
    --------
    >>> scenes = make_tb_shapes(TBShapesConfig.ci()).test_known
    >>> scenes.n_scenes, scenes.pairs().shape[1]
    (50, 3)
    """

    images: np.ndarray
    individuals: np.ndarray
    boxes: np.ndarray
    relations: np.ndarray

    @property
    def n_scenes(self) -> int:
        """Number of scenes."""
        return int(self.images.shape[0])

    def pairs(self) -> np.ndarray:
        """``(P, 3)`` rows ``(scene, subject slot, object slot)``, each ordered pair once.

        Examples
        --------
        >>> scenes = make_tb_shapes(TBShapesConfig.ci()).train
        >>> len(scenes.pairs()) <= len(scenes.relations)
        True
        """
        return np.unique(self.relations[:, :3], axis=0)

    def true_predicates(self) -> dict[tuple[int, int, int], set[int]]:
        """The set of true predicates of each ordered pair ``(scene, s slot, o slot)``.

        Examples
        --------
        >>> scenes = make_tb_shapes(TBShapesConfig.ci()).train
        >>> all(len(p) >= 1 for p in scenes.true_predicates().values())
        True
        """
        out: dict[tuple[int, int, int], set[int]] = {}
        for n, s, o, p in self.relations.tolist():
            out.setdefault((n, s, o), set()).add(p)
        return out


@dataclass(frozen=True)
class TBShapes:
    """The world: individuals and their facts, plus the three scene splits.

    Attributes
    ----------
    config : TBShapesConfig
    attributes : dict of str to numpy.ndarray
        Per-individual label index for each group of :data:`LABELS`, over the known
        individuals then the novel ones (length ``n_individuals + n_novel``).
    twins : numpy.ndarray, shape (n_twin_pairs, 2)
        Individual ids of each twin pair.
    friends : numpy.ndarray, shape (F, 2)
        ``(subject, object)`` pairs of the ``friend_of`` relation among known individuals.
    train, test_known, test_novel : TBShapesScenes

    Examples
    --------
    >>> world = make_tb_shapes(TBShapesConfig.ci())
    >>> world.friends.shape, world.label_names("size")
    ((64, 2), ('small', 'large'))
    """

    config: TBShapesConfig
    attributes: dict[str, np.ndarray]
    twins: np.ndarray
    friends: np.ndarray
    train: TBShapesScenes
    test_known: TBShapesScenes
    test_novel: TBShapesScenes

    @property
    def n_individuals(self) -> int:
        """Number of known individuals (the entity group of a concept bank)."""
        return self.config.n_individuals

    @property
    def predicate_names(self) -> tuple[str, ...]:
        """:data:`PREDICATES`."""
        return PREDICATES

    @property
    def label_groups(self) -> tuple[str, ...]:
        """The unary label groups, :data:`LABELS`' keys."""
        return tuple(LABELS)

    @property
    def perception_label_groups(self) -> tuple[str, ...]:
        """Label groups with perception targets: :data:`VISUAL_LABELS` and the memory-only age.

        Never ``dangerous``, which only semantic memory teaches.
        """
        return VISUAL_LABELS + ("age",)

    @property
    def memory_predicate(self) -> str:
        """The predicate no image shows, known only from semantic memory: ``friend_of``."""
        return "friend_of"

    SPLITS = ("train", "test_known", "test_novel")

    def scenes(self, split: str) -> TBShapesScenes:
        """The scenes of one split: ``"train"``, ``"test_known"`` or ``"test_novel"``.

        Examples
        --------
        >>> make_tb_shapes(TBShapesConfig.ci()).scenes("test_novel").n_scenes
        50
        """
        check_option("split", split, self.SPLITS)
        return getattr(self, split)

    @staticmethod
    def label_names(group: str) -> tuple[str, ...]:
        """The value names of a label group of :data:`LABELS`."""
        if group not in LABELS:
            raise ParameterError(f"unknown label group {group!r}; choose from {list(LABELS)}")
        return LABELS[group]

    def is_twin(self) -> np.ndarray:
        """``(n_individuals,)`` bool: whether each known individual has a twin.

        Examples
        --------
        >>> int(make_tb_shapes(TBShapesConfig.ci()).is_twin().sum())
        8
        """
        mask = np.zeros(self.n_individuals, dtype=bool)
        mask[self.twins.ravel()] = True
        return mask

    def group_sizes(self) -> dict[str, int]:
        """Concept groups for a tensor brain on this world (time = the training episodes).

        Examples
        --------
        >>> make_tb_shapes(TBShapesConfig.ci()).group_sizes()["entity"]
        32
        """
        sizes = {"time": self.train.n_scenes, "entity": self.n_individuals}
        sizes.update({name: len(values) for name, values in LABELS.items()})
        sizes["predicate"] = len(PREDICATES)
        return sizes


def make_tb_shapes(config: TBShapesConfig | None = None) -> TBShapes:
    """Generate a TB-Shapes world (seeded, pure numpy).

    Parameters
    ----------
    config : TBShapesConfig, optional
        Defaults to the full-size world ``TBShapesConfig()``.

    Returns
    -------
    TBShapes

    Examples
    --------
    >>> w = make_tb_shapes(TBShapesConfig.ci(n_train=10, n_test_known=0, n_test_novel=0))
    >>> w.train.n_scenes, w.test_novel.n_scenes
    (10, 0)
    """
    cfg = config if config is not None else TBShapesConfig()
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    attributes, twins = _individuals(cfg, rng)
    friends = _friend_graph(cfg, rng)
    known = np.arange(cfg.n_individuals)
    novel = np.arange(cfg.n_individuals, cfg.n_individuals + cfg.n_novel)
    split_rngs = rng.spawn(3)
    return TBShapes(
        config=dataclasses.replace(cfg), attributes=attributes, twins=twins, friends=friends,
        train=_scenes(cfg, attributes, known, cfg.n_train, split_rngs[0]),
        test_known=_scenes(cfg, attributes, known, cfg.n_test_known, split_rngs[1]),
        test_novel=_scenes(cfg, attributes, novel, cfg.n_test_novel, split_rngs[2]))


def _individuals(cfg: TBShapesConfig, rng: np.random.Generator
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Looks (unique except for twins), age bits and the derived parent / dangerous labels."""
    n_known = cfg.n_individuals
    n_looks = n_known - cfg.n_twin_pairs + cfg.n_novel
    combos = rng.permutation(len(SHAPES) * len(COLOURS) * 2)[:n_looks]
    looks = np.stack(np.unravel_index(combos, (len(SHAPES), len(COLOURS), 2)), axis=1)
    unique_known = n_known - 2 * cfg.n_twin_pairs
    twin_looks = looks[unique_known:unique_known + cfg.n_twin_pairs]
    known_looks = np.concatenate([looks[:unique_known], np.repeat(twin_looks, 2, axis=0)])
    order = rng.permutation(n_known)  # twins at random ids
    known_looks_by_id = np.empty_like(known_looks)
    known_looks_by_id[order] = known_looks
    all_looks = np.concatenate([known_looks_by_id, looks[unique_known + cfg.n_twin_pairs:]])
    twin_rows = unique_known + 2 * np.arange(cfg.n_twin_pairs)
    twins = np.stack([order[twin_rows], order[twin_rows + 1]], axis=1)
    shape = all_looks[:, 0]
    attributes = {
        "shape": shape,
        "parent": np.isin(shape, [SHAPES.index(s) for s in ROUND_SHAPES], invert=True
                          ).astype(np.int64),
        "colour": all_looks[:, 1],
        "size": all_looks[:, 2],
        "age": rng.integers(0, 2, size=len(all_looks)),
        "dangerous": np.isin(shape, [SHAPES.index(s) for s in DANGEROUS_SHAPES]
                             ).astype(np.int64),
    }
    return {k: np.asarray(v, dtype=np.int64) for k, v in attributes.items()}, twins


def _friend_graph(cfg: TBShapesConfig, rng: np.random.Generator) -> np.ndarray:
    """Each known individual befriends ``n_friends`` others, uniformly."""
    rows = []
    for s in range(cfg.n_individuals):
        others = np.delete(np.arange(cfg.n_individuals), s)
        rows += [(s, int(o)) for o in rng.choice(others, cfg.n_friends, replace=False)]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def _place(cfg: TBShapesConfig, diameters: np.ndarray, rng: np.random.Generator
           ) -> np.ndarray:
    """Top-left corners of non-overlapping boxes whose pair axes are unambiguous.

    Objects are placed one at a time (each drawn until it fits the ones already placed);
    the whole scene is redrawn when one does not fit.
    """
    size = cfg.image_size
    gap, margin = 3.0, _AXIS_MARGIN * size  # boxes round out to ceil(d) + 1 px
    for _ in range(_MAX_TRIES // 20):
        corners: list[np.ndarray] = []
        for d in diameters:
            for _ in range(20 * len(diameters)):
                corner = rng.uniform(0, size - d, 2)
                centre = corner + d / 2
                if all(_compatible(centre, d, c + e / 2, e, gap, margin)
                       for c, e in zip(corners, diameters, strict=False)):
                    corners.append(corner)
                    break
            else:
                break
        if len(corners) == len(diameters):
            return np.stack(corners)
    raise RuntimeError(f"could not place {len(diameters)} objects on a {size} px canvas; "
                       f"use a larger image_size.")


def _compatible(centre_a: np.ndarray, diam_a: float, centre_b: np.ndarray, diam_b: float,
                gap: float, margin: float) -> bool:
    """Two objects do not overlap and the larger axis of their offset is unambiguous."""
    dx, dy = np.abs(centre_a - centre_b)
    reach = (diam_a + diam_b) / 2 + gap
    return not (dx < reach and dy < reach) and abs(dx - dy) >= margin


def _relations(cfg: TBShapesConfig, centres: np.ndarray, sizes: np.ndarray,
               scene: int) -> list[tuple[int, int, int, int]]:
    """The true visual predicates of every ordered pair of one scene."""
    rows = []
    for s in range(len(centres)):
        for o in range(len(centres)):
            if s == o:
                continue
            dx, dy = centres[o] - centres[s]
            if abs(dx) >= abs(dy):
                direction = "left_of" if dx > 0 else "right_of"
            else:
                direction = "above" if dy > 0 else "below"  # image y grows downward
            preds = [direction]
            if sizes[s] > sizes[o]:
                preds.append("larger_than")
            if np.hypot(dx, dy) < cfg.near_distance * cfg.image_size:
                preds.append("near")
            rows += [(scene, s, o, PREDICATES.index(p)) for p in preds]
    return rows


def _scenes(cfg: TBShapesConfig, attributes: dict[str, np.ndarray], pool: np.ndarray,
            n_scenes: int, rng: np.random.Generator) -> TBShapesScenes:
    size = cfg.image_size
    images = np.empty((n_scenes, 3, size, size), dtype=np.float32)
    individuals = np.full((n_scenes, 4), -1, dtype=np.int64)
    boxes = np.zeros((n_scenes, 4, 4), dtype=np.float32)
    relations: list[tuple[int, int, int, int]] = []
    palette = np.asarray([PALETTE[c] for c in COLOURS])
    lo, hi = cfg.objects_per_scene
    for n in range(n_scenes):
        k = int(rng.integers(lo, hi + 1))
        who = rng.choice(pool, k, replace=False)
        size_idx = attributes["size"][who]
        diameters = (np.asarray(_SIZE_FRACTIONS)[size_idx] * size
                     * (1 + rng.uniform(-cfg.size_jitter, cfg.size_jitter, k)))
        corners = _place(cfg, diameters, rng)
        canvas = np.full((size, size, 3), BACKGROUND)
        for slot, (ind, d, (x0, y0)) in enumerate(zip(who, diameters, corners, strict=True)):
            side = max(int(np.ceil(d)) + 1, 3)
            ix, iy = int(np.floor(x0)), int(np.floor(y0))
            side = min(side, size - ix, size - iy)
            mask = shape_masks((side, side), len(SHAPES))[attributes["shape"][ind]]
            rgb = palette[attributes["colour"][ind]] + cfg.colour_jitter * rng.standard_normal(3)
            patch = canvas[iy:iy + side, ix:ix + side]
            canvas[iy:iy + side, ix:ix + side] = patch + mask[..., None] * (rgb - patch)
            individuals[n, slot] = ind
            boxes[n, slot] = (ix, iy, ix + side, iy + side)
        canvas += cfg.pixel_noise * rng.standard_normal(canvas.shape)
        images[n] = np.clip(canvas, 0.0, 1.0).transpose(2, 0, 1)
        centres = (boxes[n, :k, :2] + boxes[n, :k, 2:]) / 2
        relations += _relations(cfg, centres, size_idx, n)
    rel = np.asarray(relations, dtype=np.int64).reshape(-1, 4)
    return TBShapesScenes(images=images, individuals=individuals, boxes=boxes, relations=rel)
