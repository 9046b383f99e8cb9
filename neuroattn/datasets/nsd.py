"""The Algonauts 2023 challenge release of the Natural Scenes Dataset (NSD): read, convert.

One subject's folder (``subj01`` ... ``subj08``) in the challenge layout::

    subjXX/
      training_split/
        training_images/train-0001_nsd-00013.png ...      (RGB, 425 x 425)
        training_fmri/lh_training_fmri.npy                (n_train, n_lh) float32
        training_fmri/rh_training_fmri.npy                (n_train, n_rh)
      test_split/
        test_images/test-0001_nsd-00845.png ...
        test_fmri/{lh,rh}_test_fmri.npy                   optional, released after the challenge
        noise_ceiling/{lh,rh}_noise_ceiling.npy           optional, released after the challenge
      roi_masks/
        {lh,rh}.{family}_challenge_space.npy              (n_vertices,) int: ROI id per vertex
        mapping_{family}.npy                              pickled dict {id: ROI name}, 0 = none
        {lh,rh}.all-vertices_fsaverage_space.npy          optional (163842,) mask on fsaverage

with ``family`` in ``prf-visualrois`` (V1v, V1d, V2v, V2d, V3v, V3d, hV4),
``floc-bodies`` (EBA, FBA-1, FBA-2, mTL-bodies), ``floc-faces`` (OFA, FFA-1,
FFA-2, mTL-faces, aTL-faces), ``floc-places`` (OPA, PPA, RSC) and
``floc-words`` (OWFA, VWFA-1, VWFA-2, mfs-words, mTL-words): 24 named ROIs.
Vertices in none of them form the ROI ``"rest"`` (the 25th query per
hemisphere of the transformer brain encoder). Families overlap (e.g. a
vertex in both FFA-1 and FBA-1), so ROI membership is a boolean matrix.

**The mapping files are pickles.** ``np.load(..., allow_pickle=True)`` on an
untrusted file can run arbitrary code. By default they are read with a
restricted unpickler that only rebuilds NumPy arrays, dtypes and scalars
(plus plain dicts, ints and strings); anything else is refused. Pass
``trust_mapping=True`` only for files you trust (it calls ``np.load`` with
``allow_pickle=True``). Every other file is read with ``allow_pickle=False``.

**Noise ceilings** are returned as fractions of explainable variance in
``[0, 1]``, the unit the challenge's scoring code divides ``r²`` by. NSD's own
noise-ceiling maps are in percent; ``noise_ceiling_units="auto"`` (the
default) divides by 100 when a file holds values above 1.

The data set card is ``datasets/algonauts-nsd.md``.

Examples
--------
>>> import tempfile
>>> from neuroattn.datasets.nsd import AlgonautsSubject
>>> from neuroattn.testing.files import write_fake_algonauts
>>> root = write_fake_algonauts(tempfile.mkdtemp(), subject=1, n_train=6, n_test=3)
>>> sub = AlgonautsSubject(root, subject=1)
>>> len(sub.images("train")), sub.responses("train", "lh").shape
(6, (6, 7))
>>> membership, names = sub.roi_membership("lh")
>>> membership.shape, names[0], names[-1]
((7, 25), 'V1v', 'rest')
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import FormatError, ParameterError

__all__ = [
    "ALGONAUTS_ROIS", "AlgonautsFormatError", "AlgonautsSubject", "ROI_FAMILIES",
    "SPLIT_FOLDERS", "convert_algonauts", "load_roi_mapping", "subject_number",
]

#: The ROI families of the challenge masks, in the order of the encoder's queries.
ROI_FAMILIES: tuple[str, ...] = (
    "prf-visualrois", "floc-bodies", "floc-faces", "floc-places", "floc-words")
#: The ROI names of each family in the challenge's mapping files (ids 1, 2, ...).
ALGONAUTS_ROIS: dict[str, tuple[str, ...]] = {
    "prf-visualrois": ("V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"),
    "floc-bodies": ("EBA", "FBA-1", "FBA-2", "mTL-bodies"),
    "floc-faces": ("OFA", "FFA-1", "FFA-2", "mTL-faces", "aTL-faces"),
    "floc-places": ("OPA", "PPA", "RSC"),
    "floc-words": ("OWFA", "VWFA-1", "VWFA-2", "mfs-words", "mTL-words"),
}
REST = "rest"
"""Name of the pseudo-ROI of vertices in none of the named ROIs."""
HEMIS = ("lh", "rh")
SPLITS = ("train", "test")
FSAVERAGE_N_VERTICES = 163842
"""Vertices per hemisphere of the full-resolution fsaverage mesh."""

Hemi = Literal["lh", "rh", "both"]
Split = Literal["train", "test"]
_NSD_ID = re.compile(r"nsd-(\d+)")
_SUBJECT = re.compile(r"^(?:subj|sub-|sub)?0*(\d+)$", re.IGNORECASE)
SPLIT_FOLDERS = {"train": ("training_split", "training"), "test": ("test_split", "test")}
"""Folder and file stem of each split in the challenge layout."""


class AlgonautsFormatError(FormatError):
    """A file of the challenge layout is missing, unreadable or inconsistent."""


# =============================================================================
# Safe reading of the pickled mapping dicts
# =============================================================================
def _numpy_multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds NumPy arrays/dtypes/scalars and builtin containers; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        multiarray = _numpy_multiarray()
        allowed = {
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy.core.multiarray", "scalar"): multiarray.scalar,
            ("numpy._core.multiarray", "scalar"): multiarray.scalar,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module.startswith("numpy") and name.endswith("DType"):  # numpy 2 dtype classes
            import numpy.dtypes

            if hasattr(numpy.dtypes, name):
                return getattr(numpy.dtypes, name)
        raise pickle.UnpicklingError(f"the pickle refers to {module}.{name}, which a ROI "
                                     "mapping never needs")


def load_roi_mapping(path: str | os.PathLike, *, trust_mapping: bool = False) -> dict[int, str]:
    """Read a challenge ``mapping_{family}.npy`` file: ``{ROI id: ROI name}``.

    The file is a pickled dict. By default it is read with a restricted
    unpickler that accepts only NumPy arrays, dtypes and scalars and builtin
    types, so a tampered file cannot run code; ``trust_mapping=True`` uses
    ``np.load(allow_pickle=True)`` instead (only for files you trust).

    Parameters
    ----------
    path : path-like
        The ``.npy`` file.
    trust_mapping : bool
        Allow full unpickling.

    Returns
    -------
    dict
        Integer ids to names; id 0 (``"Unknown"``, no ROI) is kept.

    Raises
    ------
    AlgonautsFormatError
        Missing file, not a pickled dict of ids to names, or a pickle that
        needs anything beyond NumPy and builtins (then it says how to opt in).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/mapping_floc-places.npy"
    >>> np.save(path, {0: "Unknown", 1: "OPA", 2: "PPA", 3: "RSC"})
    >>> load_roi_mapping(path)
    {0: 'Unknown', 1: 'OPA', 2: 'PPA', 3: 'RSC'}
    """
    path = Path(path)
    if not path.is_file():
        raise AlgonautsFormatError(f"ROI mapping file {path} does not exist; the challenge "
                                   "layout has roi_masks/mapping_<family>.npy for every family.")
    if trust_mapping:
        try:
            obj = np.load(path, allow_pickle=True)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError) as err:
            raise AlgonautsFormatError(f"{path} cannot be read: {err}") from err
    else:
        obj = _safe_load_object_npy(path)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.ndim == 0:
        obj = obj.item()
    if not isinstance(obj, dict):
        raise AlgonautsFormatError(f"{path} does not hold a dict of ROI ids to names "
                                   f"(found {type(obj).__name__}).")
    mapping: dict[int, str] = {}
    for key, value in obj.items():
        if not isinstance(key, int | np.integer) or not isinstance(value, str | np.str_):
            raise AlgonautsFormatError(f"{path} maps {key!r} to {value!r}; expected integer "
                                       "ids and string names.")
        mapping[int(key)] = str(value)
    return dict(sorted(mapping.items()))


def _safe_load_object_npy(path: Path) -> Any:
    with path.open("rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as err:
            raise AlgonautsFormatError(f"{path} is not a .npy file ({err}).") from err
        if not dtype.hasobject:
            raise AlgonautsFormatError(f"{path} holds a {dtype} array of shape {shape}, not "
                                       "a pickled dict of ROI ids to names.")
        try:
            return _RestrictedUnpickler(io.BytesIO(f.read())).load()
        except pickle.UnpicklingError as err:
            raise AlgonautsFormatError(
                f"{path} was refused by the safe reader: {err}. Unpickling can run arbitrary "
                "code; if you trust this file, pass trust_mapping=True (CLI: --trust-mapping)."
            ) from err
        except (EOFError, ValueError, TypeError, AttributeError) as err:
            raise AlgonautsFormatError(f"{path} is not a readable pickle ({err}).") from err


# =============================================================================
# Subject
# =============================================================================
def subject_number(subject: int | str) -> int:
    """``1``, ``"1"``, ``"01"``, ``"subj01"`` or ``"sub-01"`` -> ``1``.

    Examples
    --------
    >>> subject_number("subj03"), subject_number(2), subject_number("07")
    (3, 2, 7)
    """
    if isinstance(subject, int | np.integer) and not isinstance(subject, bool):
        number = int(subject)
    else:
        match = _SUBJECT.match(str(subject).strip())
        if not match:
            raise ParameterError(f"subject={subject!r} is not a subject number; use 1-8, '01' or "
                                 "'subj01'.")
        number = int(match.group(1))
    if number < 1:
        raise ParameterError(f"subject={subject!r} must be a positive number (NSD has subjects "
                             "1-8).")
    return number


class AlgonautsSubject:
    """One subject of the Algonauts 2023 challenge data (NSD), read in place.

    Nothing is loaded until asked for; responses are memory-mapped.

    Parameters
    ----------
    root : path-like
        The folder holding ``subj01`` ... (or the subject folder itself).
    subject : int or str
        Subject number (``1``, ``"01"`` or ``"subj01"``).
    families : sequence of str
        ROI families that define the named ROIs (default: the five of
        :data:`ROI_FAMILIES`, 24 ROIs).
    trust_mapping : bool
        Read the pickled ``mapping_*.npy`` files with ``np.load(allow_pickle=True)``
        instead of the restricted reader (see the module docstring).
    noise_ceiling_units : {"auto", "fraction", "percent"}
        Units of the noise-ceiling files; ``"auto"`` treats a file with values
        above 1 as percent.

    Attributes
    ----------
    subject : int
        The subject number.
    path : pathlib.Path
        The subject folder (``.../subjXX``).

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.testing.files import write_fake_algonauts
    >>> root = write_fake_algonauts(tempfile.mkdtemp(), subject=2, n_train=6, n_test=3)
    >>> sub = AlgonautsSubject(root, "subj02")
    >>> sub.path.name, sub.n_vertices("lh"), sub.n_vertices("rh")
    ('subj02', 7, 9)
    >>> bool(sub.noise_ceiling("rh").max() <= 1.0)
    True
    """

    def __init__(self, root: str | os.PathLike, subject: int | str = 1, *,
                 families: Sequence[str] = ROI_FAMILIES, trust_mapping: bool = False,
                 noise_ceiling_units: Literal["auto", "fraction", "percent"] = "auto") -> None:
        self.subject = subject_number(subject)
        self.path = _subject_dir(Path(root), self.subject)
        self.families = tuple(families)
        if not self.families:
            raise ParameterError("families is empty; pass at least one ROI family, e.g. "
                                 "'prf-visualrois'.")
        self.trust_mapping = bool(trust_mapping)
        if noise_ceiling_units not in ("auto", "fraction", "percent"):
            raise ParameterError(f"noise_ceiling_units={noise_ceiling_units!r}; use 'auto', "
                                 "'fraction' or 'percent'.")
        self.noise_ceiling_units = noise_ceiling_units

    def __repr__(self) -> str:
        return f"AlgonautsSubject({str(self.path)!r})"

    # ----------------------------------------------------------------- files
    def _file(self, *parts: str, what: str) -> Path:
        path = self.path.joinpath(*parts)
        if not path.is_file():
            raise AlgonautsFormatError(
                f"{what} not found: {path}. Expected the Algonauts 2023 layout "
                "(see datasets/algonauts-nsd.md)."
            )
        return path

    def _fmri_path(self, split: Split, hemi: str) -> Path:
        split = _check_split(split)
        folder, stem = SPLIT_FOLDERS[split]
        return self._file(folder, f"{stem}_fmri", f"{hemi}_{stem}_fmri.npy",
                          what=f"{split} fMRI of {hemi}")

    def has_responses(self, split: Split) -> bool:
        """Whether both hemispheres' responses of ``split`` exist (test: released later)."""
        folder, stem = SPLIT_FOLDERS[_check_split(split)]
        return all((self.path / folder / f"{stem}_fmri" / f"{h}_{stem}_fmri.npy").is_file()
                   for h in HEMIS)

    def has_noise_ceiling(self) -> bool:
        """Whether both hemispheres' noise-ceiling files exist."""
        return all((self.path / "test_split" / "noise_ceiling" / f"{h}_noise_ceiling.npy")
                   .is_file() for h in HEMIS)

    # ---------------------------------------------------------------- images
    def images(self, split: Split = "train") -> list[Path]:
        """Stimulus images of ``split``, sorted by name (the row order of the responses).

        Examples
        --------
        >>> import tempfile
        >>> from neuroattn.testing.files import write_fake_algonauts
        >>> sub = AlgonautsSubject(write_fake_algonauts(tempfile.mkdtemp(), n_train=4, n_test=2))
        >>> [p.name for p in sub.images("test")]
        ['test-0001_nsd-00101.png', 'test-0002_nsd-00102.png']
        """
        split = _check_split(split)
        folder, stem = SPLIT_FOLDERS[split]
        directory = self.path / folder / f"{stem}_images"
        if not directory.is_dir():
            raise AlgonautsFormatError(f"{split} image folder not found: {directory}.")
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".png")
        if not files:
            raise AlgonautsFormatError(f"{directory} holds no .png images.")
        return files

    def image_ids(self, split: Split = "train") -> list[str]:
        """File stems of the images (``train-0001_nsd-00013``), in row order."""
        return [p.stem for p in self.images(split)]

    def nsd_ids(self, split: Split = "train") -> np.ndarray:
        """``(n_images,)`` NSD image ids parsed from the file names (``-1`` if absent)."""
        ids = [_NSD_ID.search(stem) for stem in self.image_ids(split)]
        return np.array([int(m.group(1)) if m else -1 for m in ids], dtype=np.int64)

    # ------------------------------------------------------------- responses
    def responses(self, split: Split = "train", hemi: Hemi = "lh", *,
                  mmap: bool = True) -> np.ndarray:
        """fMRI responses ``(n_images, n_vertices)`` float32, rows in image order.

        Parameters
        ----------
        split : {"train", "test"}
            The test responses exist only in the post-challenge release.
        hemi : {"lh", "rh", "both"}
            ``"both"`` concatenates lh then rh vertices (and loads them into memory).
        mmap : bool
            Memory-map single hemispheres instead of reading them.

        Raises
        ------
        AlgonautsFormatError
            Missing file, not 2-D, or a row count that differs from the image count.
        """
        hemis = _hemis(hemi)
        n_images = len(self.images(split))
        arrays = []
        for h in hemis:
            path = self._fmri_path(split, h)
            arr = _load_npy(path, mmap=mmap)
            if arr.ndim != 2:
                raise AlgonautsFormatError(f"{path} has shape {arr.shape}; expected "
                                           "(n_images, n_vertices).")
            if arr.shape[0] != n_images:
                raise AlgonautsFormatError(
                    f"{path} has {arr.shape[0]} rows but there are {n_images} {split} images; "
                    "the responses and images must match row for row (a partial download?)."
                )
            if arr.dtype.kind != "f":
                raise AlgonautsFormatError(f"{path} has dtype {arr.dtype}; expected float.")
            arrays.append(arr)
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1)

    def n_vertices(self, hemi: Literal["lh", "rh"]) -> int:
        """Number of challenge vertices of ``hemi`` (from the training fMRI, else a ROI mask)."""
        h = _hemis(hemi)[0]
        path = self.path / "training_split" / "training_fmri" / f"{h}_training_fmri.npy"
        if path.is_file():
            return int(_load_npy(path, mmap=True).shape[1])
        return int(self._roi_ids(h, self.families[0]).shape[0])

    # ------------------------------------------------------------------ ROIs
    def roi_mapping(self, family: str) -> dict[int, str]:
        """``{ROI id: name}`` of one family (id 0 = no ROI), read safely."""
        return load_roi_mapping(self._file("roi_masks", f"mapping_{family}.npy",
                                           what=f"ROI mapping of {family}"),
                                trust_mapping=self.trust_mapping)

    def _roi_ids(self, hemi: str, family: str) -> np.ndarray:
        path = self._file("roi_masks", f"{hemi}.{family}_challenge_space.npy",
                          what=f"ROI mask {family} of {hemi}")
        ids = _load_npy(path, mmap=False)
        if ids.ndim != 1:
            raise AlgonautsFormatError(f"{path} has shape {ids.shape}; expected (n_vertices,).")
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or not np.all(ids == np.round(ids)):
                raise AlgonautsFormatError(f"{path} holds non-integer ROI ids.")
        elif ids.dtype.kind not in "iub":
            raise AlgonautsFormatError(f"{path} has dtype {ids.dtype}; expected integer ids.")
        return ids.astype(np.int64)

    def roi_membership(self, hemi: Hemi = "lh") -> tuple[np.ndarray, list[str]]:
        """Which vertex is in which ROI: the named ROIs of :attr:`families` plus ``"rest"``.

        Parameters
        ----------
        hemi : {"lh", "rh", "both"}
            For ``"both"``, rows are lh then rh vertices and the ROIs are per
            hemisphere (``"lh-V1v"``, ..., ``"lh-rest"``, ``"rh-V1v"``, ...): 50
            columns for the five default families, one query each in the
            transformer brain encoder.

        Returns
        -------
        membership : numpy.ndarray
            ``(n_vertices, n_rois)`` bool. A vertex can be in several ROIs
            (families overlap); ``"rest"`` holds exactly the vertices in none.
        names : list of str
            Column names: the ROIs in family order and mapping-id order, then ``"rest"``.

        Raises
        ------
        AlgonautsFormatError
            A missing mask or mapping, a mask whose length differs from the
            responses, or an id that the mapping does not name.
        """
        if hemi == "both":
            blocks = [self.roi_membership(h) for h in HEMIS]
            n_rows = [b[0].shape[0] for b in blocks]
            n_cols = [b[0].shape[1] for b in blocks]
            out = np.zeros((sum(n_rows), sum(n_cols)), bool)
            out[:n_rows[0], :n_cols[0]] = blocks[0][0]
            out[n_rows[0]:, n_cols[0]:] = blocks[1][0]
            names = [f"{h}-{n}" for h, (_, ns) in zip(HEMIS, blocks, strict=True) for n in ns]
            return out, names
        h = _hemis(hemi)[0]
        n_vert = self.n_vertices(h)
        columns, names = [], []
        for family in self.families:
            mapping = self.roi_mapping(family)
            ids = self._roi_ids(h, family)
            if ids.shape[0] != n_vert:
                raise AlgonautsFormatError(
                    f"roi_masks/{h}.{family}_challenge_space.npy has {ids.shape[0]} vertices "
                    f"but the {h} responses have {n_vert}; the files come from different "
                    "subjects or releases."
                )
            unknown = sorted(set(np.unique(ids).tolist()) - set(mapping) - {0})
            if unknown:
                raise AlgonautsFormatError(
                    f"roi_masks/{h}.{family}_challenge_space.npy uses ROI id(s) {unknown[:5]} "
                    f"that mapping_{family}.npy does not name ({mapping})."
                )
            for key, name in mapping.items():
                if key == 0:
                    continue
                columns.append(ids == key)
                names.append(name)
        member = (np.stack(columns, axis=1) if columns
                  else np.zeros((n_vert, 0), bool))
        rest = ~member.any(axis=1)
        return np.concatenate([member, rest[:, None]], axis=1), [*names, REST]

    def roi_labels(self, hemi: Hemi = "lh") -> np.ndarray:
        """``(n_vertices,)`` one label per vertex: its first ROI (family order) or ``"rest"``."""
        member, names = self.roi_membership(hemi)
        return np.asarray(names, dtype=object)[np.argmax(member, axis=1)]

    def fsaverage_vertices(self, hemi: Literal["lh", "rh"]) -> np.ndarray | None:
        """fsaverage vertex index of each challenge vertex, or ``None`` without the mask file."""
        h = _hemis(hemi)[0]
        path = self.path / "roi_masks" / f"{h}.all-vertices_fsaverage_space.npy"
        if not path.is_file():
            return None
        index = np.flatnonzero(_load_npy(path, mmap=False))
        if len(index) != self.n_vertices(h):
            raise AlgonautsFormatError(
                f"{path} selects {len(index)} fsaverage vertices but the {h} responses have "
                f"{self.n_vertices(h)}."
            )
        return index

    # ---------------------------------------------------------- noise ceiling
    def noise_ceiling(self, hemi: Hemi = "lh") -> np.ndarray:
        """``(n_vertices,)`` noise ceiling of the test responses, as a fraction in ``[0, 1]``.

        It is the share of the variance of the (3-repeat mean) test responses
        that the stimulus can explain, ``ncsnr² / (ncsnr² + 1/3)`` in NSD.
        Files in percent are divided by 100 (see ``noise_ceiling_units``).

        Raises
        ------
        AlgonautsFormatError
            A missing file (it is in the post-challenge release only), a
            length mismatch, NaN, or values outside ``[0, 100]``.
        """
        out = []
        for h in _hemis(hemi):
            path = self._file("test_split", "noise_ceiling", f"{h}_noise_ceiling.npy",
                              what=f"noise ceiling of {h}")
            nc = np.asarray(_load_npy(path, mmap=False), dtype=np.float64).reshape(-1)
            if nc.shape[0] != self.n_vertices(h):
                raise AlgonautsFormatError(f"{path} has {nc.shape[0]} values but the {h} "
                                           f"responses have {self.n_vertices(h)} vertices.")
            if not np.all(np.isfinite(nc)) or nc.min() < 0 or nc.max() > 100:
                raise AlgonautsFormatError(f"{path} holds values outside [0, 100] or NaN.")
            units = self.noise_ceiling_units
            if units == "auto":
                units = "percent" if nc.max() > 1.0 else "fraction"
            if units == "percent":
                nc = nc / 100.0
            elif nc.max() > 1.0:
                raise AlgonautsFormatError(f"{path} has values up to {nc.max():.3g}, above 1, "
                                           "but noise_ceiling_units='fraction'.")
            out.append(nc)
        return np.concatenate(out)

    # --------------------------------------------------------------- stores
    @fill_doc
    def to_fmri_store(self, path: str | os.PathLike, *, split: Split = "train",
                      hemi: Hemi = "both", overwrite: bool = False,
                      verbose: Verbose = None) -> Path:
        """Write the responses of ``split`` as an fMRI store (streamed, never all in memory).

        Stimuli are the image file stems (coordinate ``nsd_id`` holds the NSD
        ids). Per voxel: ``hemisphere``, ``vertex`` (challenge-space index
        within its hemisphere), ``fsaverage_vertex`` (if the
        ``all-vertices`` masks exist), ``roi`` (first ROI or ``"rest"``),
        ``roi_membership`` (``("voxel", "roi_name")`` bool) and, when the
        files exist, ``noise_ceiling`` (fraction). With ``hemi="both"`` ROI
        names carry the hemisphere (``"lh-FFA-1"``).

        Parameters
        ----------
        path : path-like
            The store to write (``.zarr``).
        split : {"train", "test"}
            Which responses.
        hemi : {"lh", "rh", "both"}
            Which hemispheres.
        %(overwrite_store)s
        %(verbose)s

        %(returns_path)s

        Examples
        --------
        >>> import tempfile
        >>> from neuroattn.store import open_store
        >>> tmp = tempfile.mkdtemp()
        >>> from neuroattn.testing.files import write_fake_algonauts
        >>> sub = AlgonautsSubject(write_fake_algonauts(tmp, n_train=6, n_test=3))
        >>> ds = open_store(sub.to_fmri_store(tmp + "/subj01.zarr"), kind="fmri")
        >>> ds.responses.shape, ds.attrs["space"], ds.roi.values[:2].tolist()
        ((6, 16), 'fsaverage', ['lh-rest', 'lh-V1v'])
        """
        import dask.array as da

        from neuroattn.datasets.prepare import check_destination
        from neuroattn.store import fmri_from_array, write_store

        with use_log_level(verbose):
            dst = check_destination(path, overwrite, self.path)
            split = _check_split(split)
            hemis = _hemis(hemi)
            stimulus = self.image_ids(split)
            blocks, hemisphere, vertex, fsavg = [], [], [], []
            for h in hemis:
                arr = self.responses(split, h)  # checked, memory-mapped
                rows = max(1, min(arr.shape[0], int(64 * 2**20 // max(arr.shape[1] * 4, 1))))
                blocks.append(da.from_array(arr, chunks=(rows, -1)).astype(np.float32))
                hemisphere += [h] * arr.shape[1]
                vertex.append(np.arange(arr.shape[1]))
                fsavg.append(self.fsaverage_vertices(h))
            member, roi_names = self.roi_membership(hemi)
            labels = np.asarray(roi_names, dtype=object)[np.argmax(member, axis=1)]
            nc = self.noise_ceiling(hemi) if self.has_noise_ceiling() else None
            n_vox = member.shape[0]
            voxel_ids = [f"{h}-{v}" for h, v in zip(hemisphere, np.concatenate(vertex),
                                                    strict=True)]
            has_fsavg = all(f is not None for f in fsavg)
            attrs = {"subject": f"subj{self.subject:02d}", "split": split,
                     "dataset": "Algonauts 2023 (Natural Scenes Dataset)",
                     "source": str(self.path), "roi_families": list(self.families)}
            if nc is not None:
                attrs.update(noise_ceiling_units="fraction", noise_ceiling_n_repeats=3)
            placeholder = np.broadcast_to(np.float32(0), (len(stimulus), n_vox))  # no memory
            ds = fmri_from_array(placeholder, stimulus=stimulus, voxel=voxel_ids,
                                 noise_ceiling=nc, roi=labels,
                                 space="fsaverage" if has_fsavg else "algonauts2023-challenge",
                                 **attrs)
            coords: dict[str, Any] = {
                "nsd_id": ("stimulus", self.nsd_ids(split)),
                "hemisphere": ("voxel", np.asarray(hemisphere, dtype=object)),
                "vertex": ("voxel", np.concatenate(vertex).astype(np.int64)),
                "roi_name": ("roi_name", np.asarray(roi_names, dtype=object)),
                "roi_membership": (("voxel", "roi_name"), member),
            }
            if has_fsavg:
                coords["fsaverage_vertex"] = ("voxel", np.concatenate(fsavg).astype(np.int64))
            responses = da.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
            ds = ds.assign_coords(coords).assign(responses=(("stimulus", "voxel"), responses))
            write_store(ds, dst, kind="fmri", overwrite=overwrite)
            logger.info("subj%02d %s: %d images x %d vertices -> %s", self.subject, split,
                        len(stimulus), n_vox, dst)
        return dst


@fill_doc
def convert_algonauts(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    subject: int | str = 1,
    split: Split = "train",
    hemi: Hemi = "both",
    trust_mapping: bool = False,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Convert one Algonauts 2023 subject into an fMRI store.

    ``python -m neuroattn convert algonauts SRC DST --subject 1`` calls this.
    See :meth:`AlgonautsSubject.to_fmri_store` for what the store holds.

    Parameters
    ----------
    src : path-like
        The folder holding ``subj01`` ... (or a subject folder).
    dst : path-like
        The store to write (``.zarr``).
    subject : int or str
        ``1``, ``"01"`` or ``"subj01"``.
    split : {"train", "test"}
        Which responses (``"test"`` needs the post-challenge ``test_fmri``).
    hemi : {"lh", "rh", "both"}
        Which hemispheres.
    trust_mapping : bool
        Fully unpickle the ``mapping_*.npy`` files (only for trusted files).
    %(overwrite_store)s
    %(verbose)s

    %(returns_dst)s

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.store import open_store
    >>> tmp = tempfile.mkdtemp()
    >>> from neuroattn.testing.files import write_fake_algonauts
    >>> src = write_fake_algonauts(tmp + "/algonauts", subject=3, n_train=5, n_test=2)
    >>> out = convert_algonauts(src, tmp + "/s3.zarr", subject="03", split="test", hemi="lh")
    >>> ds = open_store(out)
    >>> ds.responses.shape, ds.attrs["subject"], float(ds.noise_ceiling.max()) <= 1
    ((2, 7), 'subj03', True)
    """
    sub = AlgonautsSubject(src, subject, trust_mapping=trust_mapping)
    return sub.to_fmri_store(dst, split=split, hemi=hemi, overwrite=overwrite, verbose=verbose)


# =============================================================================
# A tiny fake subject in the exact layout (tests, examples)
# =============================================================================
# =============================================================================
# Helpers
# =============================================================================
def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ParameterError(f"split={split!r}; use 'train' or 'test'.")
    return split


def _hemis(hemi: str) -> tuple[str, ...]:
    if hemi == "both":
        return HEMIS
    if hemi not in HEMIS:
        raise ParameterError(f"hemi={hemi!r}; use 'lh', 'rh' or 'both'.")
    return (hemi,)


def _load_npy(path: Path, *, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as err:  # e.g. an object array: refuse, never unpickle data files
        raise AlgonautsFormatError(f"{path} cannot be read as a plain array ({err}).") from err
    except OSError as err:
        raise AlgonautsFormatError(f"{path} is not a readable .npy file ({err}).") from err


def _subject_dir(root: Path, number: int) -> Path:
    name = f"subj{number:02d}"
    if (root / name).is_dir():
        return root / name
    if root.name == name and root.is_dir():
        return root
    if not root.exists():
        raise AlgonautsFormatError(f"{root} does not exist; pass the folder that holds "
                                   f"{name}/ (the unpacked Algonauts 2023 challenge data).")
    found = sorted(p.name for p in root.glob("subj*") if p.is_dir())
    hint = f" It holds {', '.join(found)}." if found else " It holds no subjXX folders."
    raise AlgonautsFormatError(f"No {name}/ under {root}.{hint}")
