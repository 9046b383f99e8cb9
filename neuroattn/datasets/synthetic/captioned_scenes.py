"""Synthetic captioned scenes: textured objects named by a caption, for caption-guided gaze.

A benchmark for NevaClip with a known answer (reference notes §6.2). Each
scene is an ``S x S`` RGB image holding ``n_objects`` objects on a smooth
background:

* **Objects** have distinct colours (from :data:`COLOURS`) and distinct shapes
  (from :data:`SHAPES`), a radius of ``object_radius · S`` and non-overlapping
  positions. An object's surface carries a random binary **texture** of
  ``texture_cell`` px cells, and only in the channels its colour lights up:
  a red object is ``0.55 ± 0.35`` in R and ``0.08`` in G and B. So the
  high-frequency energy of each colour channel says which coloured object is
  in view, and blur removes it: an image seen through a fovea carries the
  texture of the fixated object only.
* The **background** is a smooth random field (a few low-frequency cosines,
  grey around 0.4), with no high-frequency energy of its own.
* **Captions.** The caption names one object, the **target**: ``"a red
  triangle"``. ``wrong_captions`` name a colour *and* a shape that are both
  absent from the scene, the analogue of the paper's wrong-caption control
  (only when the palette and shape list leave one free; else ``None``).
* **Observers.** :meth:`CaptionedScenes.observer_scanpaths` gives the
  scanpaths of a caption-guided observer with known behaviour: the target
  first, then the other objects nearest-first, each fixation jittered around
  the object's centre, as a reference for the scanpath metrics.

Coordinates are pixel ``(x, y)``.

Examples
--------
>>> scenes = make_captioned_scenes(4, size=64, seed=0)
>>> scenes.images.shape, scenes.captions[0]
((4, 3, 64, 64), 'a red triangle')
>>> scenes.object_at(0, scenes.centres[0, scenes.target[0]])
1
>>> scenes.object_at(0, (0.0, 0.0))    # background
-1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroattn._validation import check_int, check_number
from neuroattn.datasets.synthetic.visual_search import shape_masks
from neuroattn.errors import ParameterError

__all__ = ["COLOURS", "SHAPES", "CaptionedScenes", "make_captioned_scenes"]

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (1, 0, 0),
    "green": (0, 1, 0),
    "blue": (0, 0, 1),
    "yellow": (1, 1, 0),
}
"""Colour names and the RGB channels each one lights up (and textures)."""
SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "cross")
"""Shape names, drawn with the visual-search renderer's masks."""

LIT, TEXTURE, DARK, BACKGROUND = 0.55, 0.35, 0.08, 0.4


@dataclass(frozen=True)
class CaptionedScenes:
    """Scenes, their objects and their captions.

    Attributes
    ----------
    images : numpy.ndarray, shape (N, 3, S, S), float32 in [0, 1]
    colours, shapes : numpy.ndarray, shape (N, K), int
        Indices into ``colour_names`` / ``shape_names`` of each object.
    centres : numpy.ndarray, shape (N, K, 2)
        Object centres, pixel ``(x, y)``.
    radius : float
        Object half-size in pixels (the object's box is ``centre ± radius``).
    target : numpy.ndarray, shape (N,)
        The captioned object of each scene.
    captions : list of str
    wrong_captions : list of str or None
        A caption whose colour and shape are both absent from the scene.
    colour_names, shape_names : tuple of str
    """

    images: np.ndarray
    colours: np.ndarray
    shapes: np.ndarray
    centres: np.ndarray
    radius: float
    target: np.ndarray
    captions: list[str]
    wrong_captions: list[str] | None
    colour_names: tuple[str, ...]
    shape_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        """Image side in pixels."""
        return int(self.images.shape[-1])

    def caption(self, colour: int, shape: int) -> str:
        """The caption text of a colour and shape index."""
        return f"a {self.colour_names[colour]} {self.shape_names[shape]}"

    def object_at(self, scene: int, xy: tuple[float, float] | np.ndarray,
                  margin: float = 0.0) -> int:
        """Index of the object whose box (grown by ``margin`` px) holds ``xy``, else -1."""
        x, y = float(xy[0]), float(xy[1])
        inside = ((np.abs(self.centres[scene, :, 0] - x) <= self.radius + margin)
                  & (np.abs(self.centres[scene, :, 1] - y) <= self.radius + margin))
        hits = np.flatnonzero(inside)
        return int(hits[0]) if hits.size else -1

    def objects_along(self, scene: int, path: np.ndarray, margin: float = 0.0) -> list[int]:
        """Object index (or -1) under each ``(x, y)`` fixation of ``path``."""
        return [self.object_at(scene, xy, margin) for xy in np.asarray(path)]

    def observer_scanpaths(self, n_observers: int = 5, *, jitter: float = 0.3,
                           seed: int = 0) -> list[list[np.ndarray]]:
        """Caption-guided observers: the target first, then nearest-first over the rest.

        Parameters
        ----------
        n_observers : int
            Scanpaths per scene.
        jitter : float
            Standard deviation of each fixation around its object's centre, in radii.
        seed : int

        Returns
        -------
        list (scenes) of lists (observers) of ``(K, 2)`` pixel ``(x, y)`` arrays.

        Examples
        --------
        >>> s = make_captioned_scenes(2, size=64, seed=1)
        >>> paths = s.observer_scanpaths(3)
        >>> len(paths), len(paths[0]), s.object_at(0, paths[0][0][0], margin=4)
        (2, 3, 0)
        """
        check_int("n_observers", n_observers, 1)
        rng = np.random.default_rng(seed)
        out = []
        for i in range(len(self)):
            order, current = [int(self.target[i])], self.centres[i, self.target[i]]
            rest = [k for k in range(self.centres.shape[1]) if k != self.target[i]]
            while rest:
                nearest = min(rest, key=lambda k: np.hypot(*(self.centres[i, k] - current)))
                order.append(nearest)
                rest.remove(nearest)
                current = self.centres[i, nearest]
            centres = self.centres[i, order]
            out.append([centres + jitter * self.radius * rng.standard_normal(centres.shape)
                        for _ in range(n_observers)])
        return out


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    grid = np.linspace(0.0, 1.0, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    field = np.zeros((3, size, size))
    for _ in range(3):
        fy, fx = rng.uniform(0.2, 1.2, 2)
        phase = rng.uniform(0, 2 * np.pi, 3)[:, None, None]
        field += 0.04 * np.cos(2 * np.pi * (fx * xx + fy * yy) + phase)
    return BACKGROUND + field


def _positions(n: int, size: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    low, high = radius + 2, size - radius - 2
    for _ in range(1000):
        points = rng.uniform(low, high, (n, 2))
        gaps = np.hypot(*(points[:, None] - points[None]).transpose(2, 0, 1))
        if n == 1 or gaps[np.triu_indices(n, 1)].min() >= 2.8 * radius:
            return points
    raise ParameterError(f"cannot place {n} objects of radius {radius:.1f} px apart in a {size} px "
                         "image; lower n_objects or object_radius.")


def make_captioned_scenes(
    n_scenes: int,
    *,
    size: int = 224,
    n_objects: int = 3,
    colours: tuple[str, ...] = tuple(COLOURS),
    shapes: tuple[str, ...] = SHAPES,
    object_radius: float = 0.11,
    texture_cell: int | None = None,
    seed: int = 0,
) -> CaptionedScenes:
    """Generate captioned scenes (see the module docstring).

    Parameters
    ----------
    n_scenes : int
    size : int
        Image side in pixels.
    n_objects : int
        Objects per scene, at most the number of colours and of shapes.
    colours : tuple of str
        Names from :data:`COLOURS`.
    shapes : tuple of str
        Names from :data:`SHAPES`.
    object_radius : float
        Object half-size as a fraction of ``size``.
    texture_cell : int, optional
        Texture cell in pixels (default ``max(1, size // 56)``: 4 px at 224 px,
        well inside the reference blur's sigma of 10 px).
    seed : int

    Returns
    -------
    CaptionedScenes

    Examples
    --------
    >>> s = make_captioned_scenes(3, size=48, n_objects=2, colours=("red", "green"), seed=2)
    >>> s.images.dtype, s.wrong_captions is None, sorted(set(s.colours.ravel().tolist()))
    (dtype('float32'), True, [0, 1])
    """
    check_int("n_scenes", n_scenes, 1)
    check_int("size", size, 16)
    unknown = [c for c in colours if c not in COLOURS] + [s for s in shapes if s not in SHAPES]
    if unknown:
        raise ParameterError(f"unknown colour or shape names {unknown}; choose from "
                             f"{list(COLOURS)} and {list(SHAPES)}.")
    check_int("n_objects", n_objects, 1, min(len(colours), len(shapes)))
    check_number("object_radius", object_radius, lo=0.0, strict=True)
    cell = max(1, size // 56) if texture_cell is None else texture_cell
    check_int("texture_cell", cell, 1)
    rng = np.random.default_rng(seed)
    radius = object_radius * size
    diameter = int(np.ceil(2 * radius))
    all_masks = shape_masks((diameter, diameter), len(SHAPES))
    shape_ids = [SHAPES.index(s) for s in shapes]
    lit = np.array([COLOURS[c] for c in colours], dtype=bool)
    images = np.empty((n_scenes, 3, size, size), dtype=np.float32)
    colour_idx = np.empty((n_scenes, n_objects), dtype=np.int64)
    shape_idx = np.empty((n_scenes, n_objects), dtype=np.int64)
    centres = np.empty((n_scenes, n_objects, 2))
    for i in range(n_scenes):
        colour_idx[i] = rng.permutation(len(colours))[:n_objects]
        shape_idx[i] = rng.permutation(len(shapes))[:n_objects]
        centres[i] = _positions(n_objects, size, radius, rng)
        image = _background(size, rng)
        for k in range(n_objects):
            cells = -(-diameter // cell)
            texture = rng.choice([-1.0, 1.0], (cells, cells)).repeat(cell, 0).repeat(cell, 1)
            surface = np.where(lit[colour_idx[i, k], :, None, None],
                               LIT + TEXTURE * texture[:diameter, :diameter], DARK)
            cover = all_masks[shape_ids[shape_idx[i, k]]]
            x0 = int(round(centres[i, k, 0] - diameter / 2))
            y0 = int(round(centres[i, k, 1] - diameter / 2))
            window = image[:, y0:y0 + diameter, x0:x0 + diameter]
            window += cover * (surface - window)
        images[i] = np.clip(image, 0.0, 1.0)
    target = rng.integers(0, n_objects, n_scenes)
    names = CaptionedScenes(images, colour_idx, shape_idx, centres, radius, target, [], None,
                            tuple(colours), tuple(shapes))
    captions = [names.caption(colour_idx[i, t], shape_idx[i, t]) for i, t in enumerate(target)]
    wrong = None
    if n_objects < min(len(colours), len(shapes)):
        wrong = []
        for i in range(n_scenes):
            free_colour = rng.choice(np.setdiff1d(np.arange(len(colours)), colour_idx[i]))
            free_shape = rng.choice(np.setdiff1d(np.arange(len(shapes)), shape_idx[i]))
            wrong.append(names.caption(free_colour, free_shape))
    return CaptionedScenes(images, colour_idx, shape_idx, centres, radius, target, captions,
                           wrong, tuple(colours), tuple(shapes))
