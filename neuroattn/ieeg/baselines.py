"""Feature baselines for seizure detection: line length and band power.

The detectors that seizure-detection papers report beside a deep model,
with a scikit-learn-like API, scored exactly like MVPFormer: the same
windows, and a :class:`~neuroattn.ieeg.evaluation.RecordingPrediction` with
the same times, labels, seizures and duration as
:func:`neuroattn.train_ieeg.tasks.predict` gives.

Both look only at the **last segment** of each window (``segment_s``
seconds, 1 s by default: MVPFormer's segment, the part its label is about)
and work on any montage and window length:

* :class:`LineLengthDetector`: the line length ``sum_t |x[t+1] - x[t]|`` of
  each channel, divided by that channel's reference (its median line length
  over the preceding windows, see below; so gain differences between contacts and patients do
  not dominate), averaged over channels, and mapped to a probability by a
  1-D logistic regression on its logarithm: two fitted numbers, increasing in
  line length when the training data say so.
* :class:`BandPowerDetector`: the log power of each channel in the bands of
  :data:`BANDS` (Hann-tapered periodogram of the last segment), minus that
  channel's reference (its median over the preceding windows), pooled over channels by the
  mean and the max (so any montage gives the same 10 features), standardised,
  and fed to a class-balanced scikit-learn ``LogisticRegression``.

The per-channel reference is **causal** by default (``reference="causal"``):
the median of that channel over the current window and the ``history - 1``
windows before it (300 windows, five minutes at the demo's 1 s stride), so a
window's score uses nothing recorded after it, as for MVPFormer, whose
segments are each normalised by their own RMS. ``reference="recording"``
takes the median over the whole recording instead: an offline detector that
sees the future (the comparison it gives is flattering to the baseline).
Either way a window's score depends on the windows before it, so
:meth:`~LineLengthDetector.score_windows` takes all windows of one recording
at once, in time order.

Inputs are duck-typed so that this layer never imports
:mod:`neuroattn.train_ieeg`: a *recording* is any object with ``.windows``
(an :class:`neuroattn.store.IEEGWindows`), ``.patient`` and ``.path``, such
as :class:`neuroattn.train_ieeg.data.Recording`. Plain window tensors work
too: :meth:`~LineLengthDetector.fit_windows` and
:meth:`~LineLengthDetector.score_windows`.

Examples
--------
>>> import numpy as np
>>> from neuroattn.ieeg.baselines import make_baseline
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((40, 3, 256))          # 40 windows, 3 channels, 2 s at 128 Hz
>>> y = np.arange(40) % 4 == 3
>>> x[y, :, -128:] *= 5                            # "seizures" in the last second
>>> detector = make_baseline("linelength").fit_windows([(x, y)], sfreq=128.0)
>>> p = detector.score_windows(x, sfreq=128.0)
>>> bool(p[y].min() > p[~y].max())
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from neuroattn._logging import logger
from neuroattn._validation import as_array
from neuroattn.errors import ParameterError
from neuroattn.ieeg.evaluation import RecordingPrediction

if TYPE_CHECKING:
    from neuroattn.store import IEEGWindows

__all__ = ["BANDS", "BASELINES", "BandPowerDetector", "LineLengthDetector", "band_powers",
           "line_length", "make_baseline"]

#: The names :func:`make_baseline` knows.
BASELINES = ("linelength", "bandpower")

#: Standard EEG bands ``(name, low Hz, high Hz)``; a band holds the frequencies
#: ``low <= f < high``, and gamma stops at the Nyquist frequency when it is below 70 Hz.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("delta", 1.0, 4.0), ("theta", 4.0, 8.0), ("alpha", 8.0, 13.0), ("beta", 13.0, 30.0),
    ("gamma", 30.0, 70.0))

_TINY = 1e-30  # keeps logs and ratios finite on flat channels
_READ_BATCH = 256  # windows read per batch from a store
_REFERENCE_ROWS = 256  # windows per step of the causal running median (bounds its memory)
#: How a channel's feature is referenced: past windows only, or the whole recording.
REFERENCES = ("causal", "recording")


def line_length(x: Any) -> np.ndarray:
    """Line length ``sum_t |x[..., t+1] - x[..., t]|`` along the last axis.

    Parameters
    ----------
    x : array-like or Tensor of shape (..., n_samples)
        Signals, ``n_samples >= 2``.

    Returns
    -------
    numpy.ndarray of shape (...)
        One line length per signal (same units as ``x``).

    Examples
    --------
    >>> line_length([[0.0, 1.0, -1.0, 2.0]])
    array([6.])
    """
    arr = as_array("x", x)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ParameterError(f"line_length needs at least 2 samples along the last axis, got shape "
                             f"{arr.shape}.")
    return np.abs(np.diff(arr, axis=-1)).sum(-1)


def _band_masks(n_samples: int, sfreq: float,
                bands: Sequence[tuple[str, float, float]]) -> np.ndarray:
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    nyquist = sfreq / 2.0
    masks = np.stack([(freqs >= lo) & (freqs < min(hi, nyquist)) for _, lo, hi in bands])
    empty = [name for (name, _, _), m in zip(bands, masks, strict=True) if not m.any()]
    if empty:
        raise ParameterError(
            f"Band(s) {empty} hold no frequency bin for {n_samples} samples at {sfreq:g} Hz "
            f"(resolution {sfreq / n_samples:g} Hz, Nyquist {nyquist:g} Hz); use a longer "
            "segment (segment_s), a higher sampling rate, or other bands.")
    return masks


def band_powers(x: Any, sfreq: float,
                bands: Sequence[tuple[str, float, float]] = BANDS) -> np.ndarray:
    """Log mean power of each signal in each band (Hann-tapered periodogram).

    Parameters
    ----------
    x : array-like or Tensor of shape (..., n_samples)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    bands : sequence of (name, low, high)
        Frequency bands in Hz, ``low <= f < high`` (default :data:`BANDS`);
        each band stops at the Nyquist frequency.

    Returns
    -------
    numpy.ndarray of shape (..., n_bands)
        Natural log of the mean one-sided power spectral density (V²/Hz for
        volts) over the band's bins: the periodogram of the mean-removed
        signal with a Hann taper (``numpy.hanning(n + 2)[1:-1]``), as
        ``scipy.signal.periodogram(x, sfreq, window=taper)`` computes it.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(128) / 128.0
    >>> logp = band_powers(np.sin(2 * np.pi * 10 * t), sfreq=128.0)
    >>> [name for name, _, _ in BANDS][int(np.argmax(logp))]
    'alpha'
    """
    arr = as_array("x", x)
    if sfreq <= 0:
        raise ParameterError(f"sfreq={sfreq} must be positive (Hz).")
    n = arr.shape[-1] if arr.ndim else 0
    if n < 2:
        raise ParameterError(f"band_powers needs at least 2 samples along the last axis, got "
                             f"shape {arr.shape}.")
    masks = _band_masks(n, float(sfreq), bands)
    taper = np.hanning(n + 2)[1:-1]  # no zero end points, so no sample is discarded
    power = np.abs(np.fft.rfft((arr - arr.mean(-1, keepdims=True)) * taper, axis=-1)) ** 2
    power /= sfreq * np.sum(taper ** 2)
    power[..., 1:(n + 1) // 2] *= 2  # one-sided density: fold the negative frequencies
    mean_power = (power @ masks.T.astype(np.float64)) / masks.sum(1)
    return np.log(mean_power + _TINY)


def _last_segments(x: Any, segment: int) -> np.ndarray:
    """The last ``segment`` samples of each window, as float64 (only they are copied)."""
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
    if x.ndim != 3:
        raise ParameterError(f"Windows must be (n_windows, n_channels, n_samples), got shape "
                             f"{tuple(x.shape)}; stack the windows of one recording.")
    if segment > x.shape[-1]:
        raise ParameterError(f"The segment ({segment} samples) is longer than the windows "
                             f"({x.shape[-1]} samples); lower segment_s.")
    return as_array("windows", x[..., -segment:])


class _FeatureDetector(ABC):
    """Shared machinery: reading windows, fitting, predicting (see the subclasses)."""

    name = ""

    def __init__(self, *, segment_s: float = 1.0, reference: str = "causal",
                 history: int = 300, batch_size: int = _READ_BATCH) -> None:
        if not segment_s > 0:
            raise ParameterError(f"segment_s={segment_s} must be positive (seconds).")
        if reference not in REFERENCES:
            raise ParameterError(f"reference={reference!r} is not one of {REFERENCES}; use "
                                 "'causal' (past windows only) or 'recording' (offline).")
        if int(history) < 1:
            raise ParameterError(f"history={history} must be at least 1 window.")
        if int(batch_size) < 1:
            raise ParameterError(f"batch_size={batch_size} must be at least 1.")
        self.segment_s = float(segment_s)
        self.reference = reference
        self.history = int(history)
        self.batch_size = int(batch_size)
        self.model_: Any = None

    # ---- per subclass: raw per-channel features, pooling, and the classifier
    @abstractmethod
    def _channel_features(self, segments: np.ndarray, sfreq: float) -> np.ndarray:
        """``(n_windows, n_channels, ...)`` raw features of the last segments."""

    @abstractmethod
    def _pool(self, per_channel: np.ndarray) -> np.ndarray:
        """Normalise per channel over one recording's windows, pool over channels."""

    @abstractmethod
    def _classifier(self) -> Any:
        """A new, unfitted scikit-learn classifier of the pooled features."""

    # ---- shared
    def _segment(self, sfreq: float) -> int:
        segment = int(round(self.segment_s * sfreq))
        if segment < 2:
            raise ParameterError(f"segment_s={self.segment_s} is under 2 samples at {sfreq:g} Hz; "
                                 "use a longer segment.")
        return segment

    def features(self, x: Any, sfreq: float) -> np.ndarray:
        """Features of all windows of one recording.

        Parameters
        ----------
        x : array-like or Tensor of shape (n_windows, n_channels, n_samples)
            Every window of one recording (the per-channel normalisation uses
            their median).
        sfreq : float
            Sampling rate in Hz.

        Returns
        -------
        numpy.ndarray of shape (n_windows, n_features)

        Examples
        --------
        >>> import numpy as np
        >>> LineLengthDetector().features(np.ones((5, 2, 256)), sfreq=128.0).shape
        (5, 1)
        """
        segments = _last_segments(x, self._segment(sfreq))
        return self._pool(self._channel_features(segments, float(sfreq)))

    def _recording_features(self, windows: IEEGWindows) -> np.ndarray:
        """Features of every window, reading only the last segments, ``batch_size`` at a time.

        Each batch of consecutive windows is one span of the store
        (``windows.read_span``), from the first window's last segment to the
        last window's end, cut into those segments without a copy.
        """
        segment = self._segment(windows.sfreq)
        if segment > windows.window:
            raise ParameterError(f"segment_s={self.segment_s} is longer than the windows of "
                                 f"{windows.path} ({windows.window / windows.sfreq:g} s).")
        seg_starts = windows.starts + windows.window - segment
        parts = []
        for first in range(0, len(windows), self.batch_size):
            starts = seg_starts[first:first + self.batch_size]
            span = windows.read_span(int(starts[0]), int(starts[-1]) + segment).numpy()
            cuts = np.lib.stride_tricks.sliding_window_view(span, segment, axis=1)
            parts.append(self._channel_features(
                cuts[:, starts - starts[0]].transpose(1, 0, 2), windows.sfreq))
        return self._pool(np.concatenate(parts))

    def _fit(self, features: np.ndarray, labels: np.ndarray, n_recordings: int) -> Any:
        labels = np.asarray(labels).astype(np.int64).ravel()
        if len(labels) != len(features):
            raise ParameterError(f"{len(labels)} labels for {len(features)} windows; pass one "
                                 "label per window.")
        if len(np.unique(labels)) < 2:
            which = "no" if labels.max(initial=0) == 0 else "only"
            raise ParameterError(f"The training windows hold {which} seizure windows; fitting "
                                 "needs both classes (check the recordings' annotations).")
        self.model_ = self._classifier().fit(features, labels)
        logger.info("%s baseline fitted on %d windows (%d seizure) from %d recording(s)",
                    self.name, len(labels), int(labels.sum()), n_recordings)
        return self

    def fit(self, recordings: Sequence[Any]) -> Any:
        """Fit on the training recordings.

        Parameters
        ----------
        recordings : sequence of recording-like
            Objects with ``.windows`` (an :class:`~neuroattn.store.IEEGWindows`)
            such as :class:`neuroattn.train_ieeg.data.Recording`; their window
            labels are the targets.

        Returns
        -------
        self

        Examples
        --------
        >>> import tempfile, types
        >>> from neuroattn.datasets.synthetic import make_synthetic_ieeg
        >>> from neuroattn.store import IEEGWindows
        >>> path = make_synthetic_ieeg(n_channels=3, duration_s=120.0, sfreq=128.0,
        ...     n_seizures=2, seed=0).to_store(tempfile.mkdtemp() + "/P1.zarr")
        >>> rec = types.SimpleNamespace(path=path, patient="P1", windows=IEEGWindows(
        ...     path, window_s=4.0, stride_s=1.0, label_segment_s=1.0))
        >>> pred = LineLengthDetector().fit([rec]).predict(rec)
        >>> len(pred.probabilities) == len(rec.windows)
        True
        """
        if not recordings:
            raise ParameterError("No training recordings to fit the baseline on.")
        features = np.concatenate([self._recording_features(r.windows) for r in recordings])
        labels = np.concatenate([r.windows.labels for r in recordings])
        return self._fit(features, labels, len(recordings))

    def fit_windows(self, recordings: Sequence[tuple[Any, Any]], sfreq: float) -> Any:
        """Fit on plain window tensors, one ``(x, y)`` pair per recording.

        Parameters
        ----------
        recordings : sequence of (x, y)
            ``x`` of shape (n_windows, n_channels, n_samples): all windows of
            one recording; ``y`` of shape (n_windows,): 1 for a seizure window.
        sfreq : float
            Sampling rate in Hz.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_normal((20, 2, 128))
        >>> y = np.arange(20) < 5
        >>> LineLengthDetector().fit_windows([(x, y)], sfreq=128.0).coef_.shape
        (1,)
        """
        if not recordings:
            raise ParameterError("No training windows to fit the baseline on.")
        features = np.concatenate([self.features(x, sfreq) for x, _ in recordings])
        labels = np.concatenate([as_array("y", y) for _, y in recordings])
        return self._fit(features, labels, len(recordings))

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise ParameterError(f"This {type(self).__name__} is not fitted; call .fit(recordings) "
                                 "or .fit_windows(...) first.")

    def score_windows(self, x: Any, sfreq: float) -> np.ndarray:
        """Seizure probability of every window of one recording.

        Parameters
        ----------
        x : array-like or Tensor of shape (n_windows, n_channels, n_samples)
            Every window of one recording, any channel count.
        sfreq : float
            Sampling rate in Hz.

        Returns
        -------
        numpy.ndarray of shape (n_windows,)
            Probabilities in [0, 1].

        Examples
        --------
        >>> import numpy as np
        >>> x = np.random.default_rng(1).standard_normal((30, 4, 256))
        >>> y = np.arange(30) % 3 == 0
        >>> x[y, :, -128:] *= 4
        >>> det = BandPowerDetector().fit_windows([(x, y)], sfreq=128.0)
        >>> p = det.score_windows(x[:, :2], sfreq=128.0)   # fewer channels: still works
        >>> p.shape, bool(p[y].mean() > p[~y].mean())
        ((30,), True)
        """
        self._check_fitted()
        return self.model_.predict_proba(self.features(x, sfreq))[:, 1]

    def predict(self, recording: Any) -> RecordingPrediction:
        """Seizure probability of every window of ``recording``, in time order.

        Parameters
        ----------
        recording : recording-like
            An object with ``.windows`` (an :class:`~neuroattn.store.IEEGWindows`),
            ``.patient`` and ``.path``.

        Returns
        -------
        RecordingPrediction
            With the times (window ends), labels, seizures and duration that
            :func:`neuroattn.train_ieeg.tasks.predict` gives for MVPFormer.

        Examples
        --------
        See :meth:`fit`.
        """
        self._check_fitted()
        windows = recording.windows
        probabilities = self.model_.predict_proba(self._recording_features(windows))[:, 1]
        return RecordingPrediction(
            name=recording.path.name, patient=recording.patient,
            times=(windows.starts + windows.window) / windows.sfreq,
            probabilities=probabilities.astype(np.float64),
            labels=windows.labels.copy(), seizures=windows.seizures,
            duration_s=windows.n_times / windows.sfreq)


def channel_reference(per_channel: np.ndarray, reference: str = "causal",
                      history: int = 300) -> np.ndarray:
    """Each window's per-channel reference: a median over windows, causal or offline.

    Parameters
    ----------
    per_channel : numpy.ndarray of shape (n_windows, n_channels, ...)
        A feature of every window of one recording, in time order.
    reference : {"causal", "recording"}
        ``"causal"``: the median over the window itself and the ``history - 1``
        windows before it (fewer at the start of the recording), so nothing
        after the window is used. ``"recording"``: the median over all windows.
    history : int
        Windows in the causal median.

    Returns
    -------
    numpy.ndarray, the shape of ``per_channel``

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([1.0, 3.0, 2.0, 10.0])[:, None]
    >>> channel_reference(f, "causal", history=3).ravel()
    array([1., 2., 2., 3.])
    >>> channel_reference(f, "recording").ravel()
    array([2.5, 2.5, 2.5, 2.5])
    """
    if reference == "recording":
        return np.broadcast_to(np.median(per_channel, axis=0), per_channel.shape)
    if reference != "causal":
        raise ParameterError(f"reference={reference!r} is not one of {REFERENCES}.")
    n = len(per_channel)
    out = np.empty_like(per_channel, dtype=np.float64)
    head = min(n, history - 1)
    for i in range(head):  # the start of the recording: an expanding median
        out[i] = np.median(per_channel[:i + 1], axis=0)
    if n > head:
        windows = np.lib.stride_tricks.sliding_window_view(per_channel, history, axis=0)
        for first in range(0, len(windows), _REFERENCE_ROWS):  # bounded memory
            out[head + first:head + first + _REFERENCE_ROWS] = np.median(
                windows[first:first + _REFERENCE_ROWS], axis=-1)
    return out


class LineLengthDetector(_FeatureDetector):
    """Line length of the last segment, normalised per channel, averaged over channels.

    The feature of a window is ``log(mean_c LL[c] / median_w LL[w, c])``: the
    line length of channel ``c`` over the window's last segment, divided by
    that channel's reference (:func:`channel_reference`: by default its
    median over this window and the ``history - 1`` before it), averaged
    over channels. A 1-D class-balanced logistic regression maps it to a
    probability: :attr:`coef_` and :attr:`intercept_` are the only two fitted
    numbers, so the map is monotone and the window AUROC is the feature's own
    (when ``coef_ > 0``).

    Parameters
    ----------
    segment_s : float
        Length of the scored last segment in seconds (MVPFormer's segment).
    reference : {"causal", "recording"}
        The per-channel reference (see :func:`channel_reference`).
    history : int
        Windows in the causal reference.
    batch_size : int
        Windows read per batch from a store.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 2, 128)); x[:, :, ::2] = [[[1.0]], [[2.0]], [[3.0]]]
    >>> offline = LineLengthDetector(reference="recording")   # 1x, 2x, 3x: over the median 2x
    >>> np.exp(offline.features(x, sfreq=128.0)).ravel()
    array([0.5, 1. , 1.5])
    >>> np.exp(LineLengthDetector().features(x, sfreq=128.0)).ravel().round(3)  # past only
    array([1.   , 1.333, 1.5  ])
    """

    name = "linelength"

    def _channel_features(self, segments: np.ndarray, sfreq: float) -> np.ndarray:
        return line_length(segments)

    def _pool(self, per_channel: np.ndarray) -> np.ndarray:
        ratio = per_channel / np.maximum(
            channel_reference(per_channel, self.reference, self.history), _TINY)
        return np.log(ratio.mean(1) + _TINY)[:, None]

    def _classifier(self) -> Any:
        from sklearn.linear_model import LogisticRegression  # slow to import

        return LogisticRegression(class_weight="balanced")

    @property
    def coef_(self) -> np.ndarray:
        """Slope of the logistic map on the log feature, shape (1,)."""
        self._check_fitted()
        return self.model_.coef_[0]

    @property
    def intercept_(self) -> float:
        """Intercept of the logistic map."""
        self._check_fitted()
        return float(self.model_.intercept_[0])


class BandPowerDetector(_FeatureDetector):
    """Log band powers of the last segment, pooled over channels, logistic regression.

    Per channel: the log mean power in each band of ``bands`` (see
    :func:`band_powers`), minus that channel's reference
    (:func:`channel_reference`). Pooled over channels by the mean and the max, which gives
    ``2 * n_bands`` features for any montage; standardised; class-balanced
    scikit-learn ``LogisticRegression(C=C)``.

    Parameters
    ----------
    bands : sequence of (name, low, high)
        Frequency bands in Hz (default :data:`BANDS`: delta 1-4, theta 4-8,
        alpha 8-13, beta 13-30, gamma 30-70 or up to the Nyquist frequency).
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    segment_s : float
        Length of the scored last segment in seconds.
    reference : {"causal", "recording"}
        The per-channel reference (see :func:`channel_reference`).
    history : int
        Windows in the causal reference.
    batch_size : int
        Windows read per batch from a store.

    Examples
    --------
    >>> import numpy as np
    >>> BandPowerDetector().features(np.random.default_rng(0).standard_normal((6, 3, 256)),
    ...                              sfreq=128.0).shape
    (6, 10)
    """

    name = "bandpower"

    def __init__(self, bands: Sequence[tuple[str, float, float]] = BANDS, C: float = 1.0, *,
                 segment_s: float = 1.0, reference: str = "causal", history: int = 300,
                 batch_size: int = _READ_BATCH) -> None:
        super().__init__(segment_s=segment_s, reference=reference, history=history,
                         batch_size=batch_size)
        bands = tuple((str(name), float(lo), float(hi)) for name, lo, hi in bands)
        if not bands or any(not 0 <= lo < hi for _, lo, hi in bands):
            raise ParameterError(f"bands={bands} must be non-empty (name, low, high) triples with "
                                 "0 <= low < high (Hz).")
        if not C > 0:
            raise ParameterError(f"C={C} must be positive.")
        self.bands, self.C = bands, float(C)

    def _channel_features(self, segments: np.ndarray, sfreq: float) -> np.ndarray:
        return band_powers(segments, sfreq, self.bands)

    def _pool(self, per_channel: np.ndarray) -> np.ndarray:
        relative = per_channel - channel_reference(per_channel, self.reference, self.history)
        return np.concatenate([relative.mean(1), relative.max(1)], axis=1)

    def _classifier(self) -> Any:
        from sklearn.linear_model import LogisticRegression  # slow to import
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(),
                             LogisticRegression(C=self.C, class_weight="balanced",
                                                max_iter=1000))


def make_baseline(name: str, **params: Any) -> LineLengthDetector | BandPowerDetector:
    """A new, unfitted baseline detector by name.

    Parameters
    ----------
    name : {"linelength", "bandpower"}
        See :data:`BASELINES`.
    **params
        Keyword arguments of the detector (e.g. ``segment_s``, ``C``).

    Returns
    -------
    LineLengthDetector or BandPowerDetector

    Examples
    --------
    >>> type(make_baseline("bandpower", C=0.5)).__name__
    'BandPowerDetector'
    """
    detectors = {"linelength": LineLengthDetector, "bandpower": BandPowerDetector}
    if name not in detectors:
        raise ParameterError(f"Unknown baseline {name!r}; the baselines are {list(BASELINES)}.")
    return detectors[name](**params)
