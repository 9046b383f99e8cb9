"""Synthetic intracranial EEG with known seizures, for testing seizure detectors.

The generator builds a recording on one or more linear depth shafts (channel
index order = spatial adjacency) from three ingredients:

1. **Aperiodic background.** Per channel, Gaussian noise shaped in the FFT
   domain to the power spectrum ``P(f) ∝ 1 / (f_k**β + f**β)`` with a knee
   ``f_k`` (default 2 Hz) and an exponent ``β ~ U(beta_range)`` drawn per
   channel, scaled to unit RMS. Spatial correlation comes from an AR(1) chain
   across channels, ``x_c = ρ x_{c-1} + sqrt(1 - ρ²) e_c``, so that the
   correlation between channels ``Δc`` apart is about ``ρ**|Δc|``. An 8-12 Hz
   alpha bump, 50 Hz line noise and per-channel gains can be switched on/off.
2. **Seizures** (label 1 between onset and offset). A train of spike-and-wave
   complexes starts on a focal channel and is emitted at an instantaneous
   frequency gliding linearly from ``f_a`` (7-10 Hz) to ``f_b`` (2.5-4 Hz),
   under a 2 s rise / 1 s fall envelope. It propagates to channel ``c`` with a
   delay ``|c - c0| * propagation_delay_s`` and a gain
   ``exp(-|c - c0| / propagation_length_channels)``; channels whose gain is
   below ``recruitment_threshold`` are not recruited. An optional post-ictal
   suppression follows.
3. **Decoys** (label 0): isolated interictal spike-waves, broadband movement
   artefacts (Hanning bumps on every channel) and optional amplitude-only
   decoys (background scaled up for 5-20 s).

No two events overlap. ``amplitude`` (spike height in units of the background
RMS) is the difficulty knob. Everything is deterministic given ``seed``, and
independent random streams are used for the background, the seizures, the
long decoys and the interictal spikes, so changing e.g. ``spike_rate_hz`` does
not change the background.

Examples
--------
>>> from neuroattn.datasets.synthetic.ieeg import make_synthetic_ieeg
>>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
>>> rec.data.shape, rec.data.dtype
((4, 7680), dtype('float32'))
>>> rec.ch_names
['LA1', 'LA2', 'LA3', 'LA4']
>>> rec.seizure_intervals().shape
(1, 2)
>>> int(rec.sample_labels().max())
1
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.fft

from neuroattn._docs import fill_doc
from neuroattn._logging import logger
from neuroattn._validation import check_int, check_number, check_pair, to_jsonable
from neuroattn.config import config_from
from neuroattn.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import mne

__all__ = ["SyntheticIEEG", "SyntheticIEEGConfig", "make_synthetic_ieeg"]

# Spike-and-wave complex morphology (fixed by the recipe).
SPIKE_SIGMA_S = 0.015
"""Standard deviation of the negative Gaussian spike, seconds."""
WAVE_SIGMA_S = 0.070
"""Standard deviation of the positive Gaussian slow wave, seconds."""
WAVE_DELAY_S = 0.120
"""Delay of the slow wave after the spike, seconds."""
WAVE_RATIO = 0.6
"""Slow-wave height relative to the spike height."""
SEIZURE_RISE_S = 2.0
"""Raised-cosine rise time of the ictal envelope, seconds."""
SEIZURE_FALL_S = 1.0
"""Raised-cosine fall time of the ictal envelope, seconds."""
MIN_SFREQ_HZ = 100.0
"""Lowest accepted sampling rate: the 15 ms spike needs >= 1.5 samples per sigma."""
CONTACTS_PER_SHAFT = 16
"""Contacts per depth shaft; more channels use more shafts (LA, LB, ...)."""
CONTACT_SPACING_M = 0.0035
"""Distance between neighbouring contacts of a shaft, metres."""
MAX_CHANNELS = 26 * CONTACTS_PER_SHAFT
"""Most channels supported (26 shafts named LA..LZ of 16 contacts)."""

_ALPHA_SIGMA_HZ = 1.0  # width of the alpha bump in the PSD
_SPIKE_CLEARANCE_S = 0.5  # min gap between an interictal spike and any other event
_JITTER = (0.8, 1.2)  # per-complex (and per-channel artefact) amplitude jitter
_PRE_S = 5 * SPIKE_SIGMA_S  # rendering window of one complex around the spike
_POST_S = WAVE_DELAY_S + 5 * WAVE_SIGMA_S
_RENDER_BATCH = 2_000_000  # samples rendered per vectorised batch (bounds memory)


@dataclass
class SyntheticIEEGConfig:
    """Parameters of :func:`make_synthetic_ieeg` (all amplitudes in background-RMS units).

    Parameters
    ----------
    n_channels : int
        Number of contacts, 1 to 416 (4-128 is the tested range). Contacts are
        grouped into shafts of up to 16 (``LA1..LA16``, ``LB1..``); the channel
        index order is the spatial adjacency used by the background
        correlation and the seizure propagation, also across shaft borders.
    duration_s : float
        Recording length in seconds. Must leave room for the requested
        seizures and decoys (a ``ValueError`` says how much is needed).
    sfreq : float
        Sampling rate in Hz, at least 100 Hz (the 15 ms spike must be resolved).
    n_seizures : int
        Number of seizures, placed at random non-overlapping times.
    amplitude : float
        Height of the spikes (ictal and interictal) in units of the background
        RMS; the difficulty parameter. 0 gives a recording without visible
        events (the timing ground truth is unchanged).
    seizure_duration_s : tuple of float
        ``(low, high)`` range of the focal seizure duration, drawn uniformly.
        ``low`` must be at least 3 s (2 s rise + 1 s fall).
    spike_rate_hz : float
        Rate of the Poisson process of isolated interictal spike-waves (label
        0). Candidates that would overlap another event (within 0.5 s) are
        dropped, so the realised rate is slightly lower.
    artifacts_per_240s : float
        Expected number of movement artefacts per 240 s (stochastically rounded
        to an integer count for the recording).
    amplitude_decoys : int
        Number of amplitude-only decoys (background on every channel scaled by
        ``amplitude_decoy_factor`` for a while).
    beta_range : tuple of float
        Range of the per-channel aperiodic exponent ``β``.
    knee_hz : float
        Knee frequency ``f_k`` of the aperiodic spectrum, Hz.
    rho : float
        AR(1) coefficient across neighbouring channels, in ``[0, 1)``.
    alpha_peak_ratio : float
        Height of the alpha bump relative to the aperiodic power at its
        centre frequency (1 doubles the power there); 0 switches it off.
    alpha_freq_hz : tuple of float
        Range of the per-channel alpha centre frequency, Hz.
    line_noise_amplitude : float
        Peak amplitude of the common-phase line-noise sinusoid (per-channel
        scale ``U(0.8, 1.2)``); 0 switches it off.
    line_noise_hz : float
        Line frequency in Hz (must lie below Nyquist when line noise is on).
    gain_range : tuple of float or None
        Range of the per-channel gain applied to everything recorded on that
        channel (so each channel's event-to-background ratio is unchanged);
        ``None`` switches gains off.
    start_freq_hz : tuple of float
        Range of the complex rate at seizure onset, ``f_a``.
    end_freq_hz : tuple of float
        Range of the complex rate at seizure end, ``f_b``.
    propagation_delay_s : float
        Onset delay per contact of distance from the focal channel, seconds.
    propagation_length_channels : float
        Spatial decay length ``λ`` of the ictal gain ``exp(-|Δc| / λ)``.
    recruitment_threshold : float
        Channels whose spatial gain is below this are not recruited; the same
        spatial profile is used for interictal spikes.
    postictal : bool
        Whether the background of recruited channels is suppressed after the
        seizure.
    postictal_factor : float
        Background scale during post-ictal suppression, in ``[0, 1]``.
    postictal_duration_s : tuple of float
        Range of the post-ictal suppression duration, seconds.
    artifact_duration_s : tuple of float
        Range of the movement artefact (Hanning bump) duration, seconds.
    artifact_amplitude_ratio : float
        Artefact peak relative to ``amplitude`` (1.5: 50 % above the spikes).
    amplitude_decoy_factor : float
        Background scale inside an amplitude-only decoy.
    amplitude_decoy_duration_s : tuple of float
        Range of the amplitude-only decoy duration, seconds.
    event_margin_s : float
        Minimum gap between seizures (including their post-ictal period),
        artefacts and amplitude decoys, and between them and the recording edges.
    background_rms_v : float
        RMS of the background in volts (before channel gains).
    seed : int
        Non-negative seed; the recording is a deterministic function of the config.

    Examples
    --------
    >>> cfg = SyntheticIEEGConfig(n_channels=8, amplitude=2.0)
    >>> cfg.rho, cfg.knee_hz
    (0.7, 2.0)
    >>> SyntheticIEEGConfig(amplitude=-1.0)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: amplitude=-1.0 must be >= 0...
    """

    n_channels: int = 16
    duration_s: float = 240.0
    sfreq: float = 256.0
    n_seizures: int = 2
    amplitude: float = 4.0
    seizure_duration_s: tuple[float, float] = (8.0, 20.0)
    spike_rate_hz: float = 0.2
    artifacts_per_240s: float = 2.0
    amplitude_decoys: int = 0
    beta_range: tuple[float, float] = (1.6, 2.2)
    knee_hz: float = 2.0
    rho: float = 0.7
    alpha_peak_ratio: float = 1.0
    alpha_freq_hz: tuple[float, float] = (8.0, 12.0)
    line_noise_amplitude: float = 0.0
    line_noise_hz: float = 50.0
    gain_range: tuple[float, float] | None = (0.5, 2.0)
    start_freq_hz: tuple[float, float] = (7.0, 10.0)
    end_freq_hz: tuple[float, float] = (2.5, 4.0)
    propagation_delay_s: float = 0.3
    propagation_length_channels: float = 3.0
    recruitment_threshold: float = 0.15
    postictal: bool = True
    postictal_factor: float = 0.4
    postictal_duration_s: tuple[float, float] = (5.0, 10.0)
    artifact_duration_s: tuple[float, float] = (0.5, 2.0)
    artifact_amplitude_ratio: float = 1.5
    amplitude_decoy_factor: float = 4.0
    amplitude_decoy_duration_s: tuple[float, float] = (5.0, 20.0)
    event_margin_s: float = 5.0
    background_rms_v: float = 50e-6
    seed: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # e.g. from YAML / JSON
                setattr(self, f.name, tuple(value))
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the fix if a parameter is bad."""
        check_int("n_channels", self.n_channels, 1, MAX_CHANNELS)
        check_number("sfreq", self.sfreq, lo=0.0, strict=True)
        if self.sfreq < MIN_SFREQ_HZ:
            raise ParameterError(
                f"sfreq={self.sfreq} Hz is too low to resolve the {SPIKE_SIGMA_S * 1e3:.0f} ms "
                f"spike; use sfreq >= {MIN_SFREQ_HZ:.0f} Hz (e.g. 128, 256 or 512)."
            )
        check_number("duration_s", self.duration_s, lo=0.0, strict=True)
        if round(self.duration_s * self.sfreq) < 2:
            raise ParameterError(
                f"duration_s={self.duration_s} gives fewer than 2 samples at "
                f"sfreq={self.sfreq}; increase duration_s."
            )
        check_int("n_seizures", self.n_seizures, 0)
        check_number("amplitude", self.amplitude, lo=0.0)
        check_pair("seizure_duration_s", self.seizure_duration_s, lo=0.0, strict=True)
        if self.seizure_duration_s[0] < SEIZURE_RISE_S + SEIZURE_FALL_S:
            raise ParameterError(
                f"seizure_duration_s={self.seizure_duration_s} is shorter than the "
                f"{SEIZURE_RISE_S:g} s rise + {SEIZURE_FALL_S:g} s fall of the ictal envelope; "
                f"use a lower bound >= {SEIZURE_RISE_S + SEIZURE_FALL_S:g} s."
            )
        check_number("spike_rate_hz", self.spike_rate_hz, lo=0.0)
        check_number("artifacts_per_240s", self.artifacts_per_240s, lo=0.0)
        check_int("amplitude_decoys", self.amplitude_decoys, 0)
        check_pair("beta_range", self.beta_range, lo=0.0, strict=True)
        check_number("knee_hz", self.knee_hz, lo=0.0, strict=True)
        check_number("rho", self.rho, lo=0.0)
        if self.rho >= 1.0:
            raise ParameterError(f"rho={self.rho} must be < 1 (use e.g. 0.7 for corr ≈ 0.7).")
        nyquist = self.sfreq / 2.0
        check_number("alpha_peak_ratio", self.alpha_peak_ratio, lo=0.0)
        check_pair("alpha_freq_hz", self.alpha_freq_hz, lo=0.0, strict=True)
        if self.alpha_peak_ratio > 0 and self.alpha_freq_hz[1] >= nyquist:
            raise ParameterError(
                f"alpha_freq_hz={self.alpha_freq_hz} reaches the Nyquist frequency "
                f"{nyquist:g} Hz; lower it, raise sfreq, or set alpha_peak_ratio=0."
            )
        check_number("line_noise_amplitude", self.line_noise_amplitude, lo=0.0)
        check_number("line_noise_hz", self.line_noise_hz, lo=0.0, strict=True)
        if self.line_noise_amplitude > 0 and self.line_noise_hz >= nyquist:
            raise ParameterError(
                f"line_noise_hz={self.line_noise_hz} is not below the Nyquist frequency "
                f"{nyquist:g} Hz; raise sfreq or set line_noise_amplitude=0."
            )
        if self.gain_range is not None:
            check_pair("gain_range", self.gain_range, lo=0.0, strict=True)
        check_pair("start_freq_hz", self.start_freq_hz, lo=0.0, strict=True)
        check_pair("end_freq_hz", self.end_freq_hz, lo=0.0, strict=True)
        if self.start_freq_hz[1] >= nyquist:
            raise ParameterError(
                f"start_freq_hz={self.start_freq_hz} reaches the Nyquist frequency "
                f"{nyquist:g} Hz; lower it or raise sfreq."
            )
        check_number("propagation_delay_s", self.propagation_delay_s, lo=0.0)
        check_number(
            "propagation_length_channels", self.propagation_length_channels, lo=0.0, strict=True
        )
        check_number("recruitment_threshold", self.recruitment_threshold, lo=0.0, strict=True)
        if self.recruitment_threshold > 1.0:
            raise ParameterError(
                f"recruitment_threshold={self.recruitment_threshold} must be in (0, 1] "
                "(the focal channel has gain 1); use e.g. 0.15."
            )
        if not isinstance(self.postictal, bool | np.bool_):
            raise ParameterError(f"postictal={self.postictal!r} must be True or False.")
        check_number("postictal_factor", self.postictal_factor, lo=0.0, hi=1.0)
        check_pair("postictal_duration_s", self.postictal_duration_s, lo=0.0)
        check_pair("artifact_duration_s", self.artifact_duration_s, lo=0.0, strict=True)
        check_number("artifact_amplitude_ratio", self.artifact_amplitude_ratio, lo=0.0)
        check_number("amplitude_decoy_factor", self.amplitude_decoy_factor, lo=0.0, strict=True)
        check_pair(
            "amplitude_decoy_duration_s", self.amplitude_decoy_duration_s, lo=0.0, strict=True
        )
        check_number("event_margin_s", self.event_margin_s, lo=0.0)
        check_number("background_rms_v", self.background_rms_v, lo=0.0, strict=True)
        check_int("seed", self.seed, 0)

        needed = self.min_duration_s()
        if round(self.duration_s * self.sfreq) / self.sfreq < needed - 1e-9:
            raise ParameterError(
                f"duration_s={self.duration_s:g} is too short for n_seizures={self.n_seizures} "
                f"(up to {self.seizure_duration_s[1]:g} s each plus propagation and post-ictal "
                f"time), {self._max_artifacts()} artefact(s) and {self.amplitude_decoys} "
                f"amplitude decoy(s) with event_margin_s={self.event_margin_s:g}: at least "
                f"{needed:.1f} s is needed. Increase duration_s or reduce n_seizures, "
                "seizure_duration_s, artifacts_per_240s, amplitude_decoys or event_margin_s."
            )

    # ----------------------------------------------------------------- helpers
    def max_recruit_distance(self) -> int:
        """Largest ``|c - c0|`` whose spatial gain reaches ``recruitment_threshold``."""
        reach = self.propagation_length_channels * math.log(1.0 / self.recruitment_threshold)
        return int(min(self.n_channels - 1, math.floor(reach + 1e-9)))

    def _max_artifacts(self) -> int:
        return int(math.ceil(self.artifacts_per_240s * self.duration_s / 240.0 - 1e-12))

    def min_duration_s(self) -> float:
        """Shortest ``duration_s`` that fits the worst case of all requested events.

        Events are seizures (longest duration + largest propagation delay +
        longest post-ictal period), artefacts and amplitude decoys, each
        separated from the others and from the recording edges by
        ``event_margin_s``. Interictal spikes take the remaining time.
        """
        margin = self.event_margin_s
        max_delay = self.max_recruit_distance() * self.propagation_delay_s
        post = self.postictal_duration_s[1] if self.postictal else 0.0
        seizure = self.seizure_duration_s[1] + max_delay + post
        n_long = self.n_seizures + self._max_artifacts() + self.amplitude_decoys
        total = (
            self.n_seizures * seizure
            + self._max_artifacts() * self.artifact_duration_s[1]
            + self.amplitude_decoys * self.amplitude_decoy_duration_s[1]
        )
        if not n_long:
            return 0.0
        need = total + (n_long + 1) * margin
        return math.ceil(need * self.sfreq - 1e-6) / self.sfreq  # on the sample grid

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy of the parameters (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [to_jsonable(v) for v in value]
            out[f.name] = to_jsonable(value)
        return out


@dataclass
class SyntheticIEEG:
    """A synthetic iEEG recording with its ground truth.

    Attributes
    ----------
    data : numpy.ndarray
        ``(n_channels, n_times)`` float32 signals in volts.
    sfreq : float
        Sampling rate, Hz.
    ch_names : list of str
        Contact names (``LA1..LA16``, ``LB1..``); list order = spatial adjacency.
    positions : numpy.ndarray
        ``(n_channels, 3)`` contact positions in metres (head frame), contacts
        3.5 mm apart along each shaft, shafts parallel.
    events : list of dict
        One dict per event, sorted by onset, with ``kind`` (``"seizure"``,
        ``"interictal_spike"``, ``"artifact"`` or ``"amplitude_decoy"``),
        ``onset`` and ``offset`` in seconds and kind-specific details. Seizures
        also have ``onset_channel``, ``start_freq_hz``, ``end_freq_hz`` and
        ``channel_delays_s`` (recruited channel name -> delay in s).
    config : SyntheticIEEGConfig
        The parameters that produced the recording.
    background : dict
        Per-channel background parameters (``beta``, ``alpha_freq_hz``,
        ``gain``), lists in channel order.

    Examples
    --------
    >>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
    >>> raw = rec.to_raw()
    >>> raw.get_channel_types()[:2], raw.info["sfreq"]
    (['seeg', 'seeg'], 128.0)
    >>> "seizure" in set(raw.annotations.description)
    True
    """

    data: np.ndarray
    sfreq: float
    ch_names: list[str]
    positions: np.ndarray
    events: list[dict]
    config: SyntheticIEEGConfig
    background: dict[str, Any] = field(default_factory=dict)

    @property
    def n_times(self) -> int:
        """Number of samples."""
        return int(self.data.shape[1])

    @property
    def times(self) -> np.ndarray:
        """Sample times in seconds."""
        return np.arange(self.n_times) / self.sfreq

    def seizure_intervals(self) -> np.ndarray:
        """Seizure ``(onset, offset)`` times in seconds.

        Returns
        -------
        numpy.ndarray
            ``(n_seizures, 2)`` float array, sorted by onset.

        Examples
        --------
        >>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
        >>> iv = rec.seizure_intervals()
        >>> bool(iv[0, 1] - iv[0, 0] >= 8.0)
        True
        """
        rows = [(e["onset"], e["offset"]) for e in self.events if e["kind"] == "seizure"]
        return np.asarray(rows, dtype=float).reshape(-1, 2)

    def sample_labels(self) -> np.ndarray:
        """Per-sample labels: 1 for ``onset <= t < offset`` of a seizure, else 0.

        Returns
        -------
        numpy.ndarray
            ``(n_times,)`` int8.

        Examples
        --------
        >>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
        >>> lab = rec.sample_labels()
        >>> lab.dtype, lab.shape == (rec.n_times,)
        (dtype('int8'), True)
        """
        labels = np.zeros(self.n_times, dtype=np.int8)
        for onset, offset in self.seizure_intervals():
            i0 = max(0, math.ceil(onset * self.sfreq - 1e-9))
            i1 = min(self.n_times, math.ceil(offset * self.sfreq - 1e-9))
            labels[i0:i1] = 1
        return labels

    def ground_truth(self) -> dict[str, Any]:
        """JSON-serialisable ground truth: generator, config, events and background."""
        return {
            "generator": "neuroattn.datasets.synthetic.ieeg",
            "config": self.config.to_dict(),
            "events": [to_jsonable(e) for e in self.events],
            "background": to_jsonable(self.background),
        }

    def to_raw(self) -> mne.io.RawArray:
        """Convert to an MNE ``RawArray`` of ``seeg`` channels with annotations.

        Contact positions are set through a head-frame montage; every event is
        an annotation whose description is its ``kind`` (``"seizure"``,
        ``"interictal_spike"``, ``"artifact"``, ``"amplitude_decoy"``).

        Returns
        -------
        mne.io.RawArray
            The recording (float64 copy of ``data``).

        Examples
        --------
        >>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
        >>> raw = rec.to_raw()
        >>> len(raw.ch_names), int(raw.n_times) == rec.n_times
        (4, True)
        """
        import mne

        info = mne.create_info(list(self.ch_names), float(self.sfreq), ch_types="seeg")
        cfg = self.config
        info["description"] = (
            f"neuroattn synthetic iEEG (seed={cfg.seed}, amplitude={cfg.amplitude:g}, "
            f"n_seizures={cfg.n_seizures})"
        )
        raw = mne.io.RawArray(self.data, info, verbose="error")
        montage = mne.channels.make_dig_montage(
            ch_pos={n: p for n, p in zip(self.ch_names, self.positions, strict=True)},
            coord_frame="head",
        )
        raw.set_montage(montage, verbose="error")
        if self.events:
            raw.set_annotations(
                mne.Annotations(
                    onset=[e["onset"] for e in self.events],
                    duration=[e["offset"] - e["onset"] for e in self.events],
                    description=[e["kind"] for e in self.events],
                )
            )
        return raw

    @fill_doc
    def to_edf(self, path: str | Path) -> Path:
        """Write the recording (with annotations) to EDF via ``raw.export``.

        Needs the ``edfio`` package. EDF stores 16-bit samples, so values are
        quantised to the channel's physical range / 65535, and the last data
        record is zero-padded to a whole record. Use an integer ``sfreq``.

        Parameters
        ----------
        path : str or pathlib.Path
            Output file (``.edf``); overwritten if it exists.

        %(returns_path)s
        """
        path = Path(path)
        try:
            self.to_raw().export(path, fmt="edf", overwrite=True, verbose="error")
        except ValueError as err:
            if float(self.sfreq).is_integer():
                raise
            raise ParameterError(
                f"EDF export failed for sfreq={self.sfreq} Hz: EDF needs a whole number of "
                "samples per data record; generate with an integer sfreq (e.g. 256) or "
                f"resample before exporting. ({err})"
            ) from err
        return path

    @fill_doc
    def to_store(self, path: str | Path, **kwargs: Any) -> Path:
        """Write to the package store (``kind="ieeg"``) with the ground truth in the attrs.

        Converts with :func:`neuroattn.store.from_mne_raw`, sets
        ``ds.attrs["ground_truth"]`` to :meth:`ground_truth` and writes with
        :func:`neuroattn.store.write_store`.

        Parameters
        ----------
        path : str or pathlib.Path
            Store location.
        **kwargs
            Passed on to ``write_store``.

        %(returns_path)s
        """
        from neuroattn.store import from_mne_raw, write_store

        ds = from_mne_raw(self.to_raw(), dtype="float32")  # the samples are float32 already
        ds.attrs["ground_truth"] = self.ground_truth()
        write_store(ds, path, kind="ieeg", **kwargs)
        return Path(path)


# =============================================================================
# Generator
# =============================================================================
def make_synthetic_ieeg(
    config: SyntheticIEEGConfig | None = None, **overrides: Any
) -> SyntheticIEEG:
    """Generate a synthetic iEEG recording with seizures, decoys and ground truth.

    Parameters
    ----------
    config : SyntheticIEEGConfig or None
        Parameters; defaults to ``SyntheticIEEGConfig()``.
    **overrides
        Fields of :class:`SyntheticIEEGConfig` to replace (e.g. ``amplitude=2``).

    Returns
    -------
    SyntheticIEEG
        The recording (float32 volts) and its events.

    Raises
    ------
    ValueError
        For an unknown override or a bad parameter (the message says how to fix it).

    Examples
    --------
    >>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0,
    ...                           n_seizures=1, seed=3)
    >>> [e["kind"] for e in rec.events if e["kind"] == "seizure"]
    ['seizure']
    >>> import numpy as np
    >>> again = make_synthetic_ieeg(rec.config)
    >>> bool(np.array_equal(rec.data, again.data))
    True
    """
    cfg = config_from(SyntheticIEEGConfig, config, overrides, "make_synthetic_ieeg")
    cfg.validate()
    t_start = time.perf_counter()

    n_ch = int(cfg.n_channels)
    sfreq = float(cfg.sfreq)
    n_times = int(round(cfg.duration_s * sfreq))
    duration = n_times / sfreq
    ch_names, positions = _channel_layout(n_ch)

    ss = np.random.SeedSequence(int(cfg.seed))
    rng_bg, rng_sz, rng_long, rng_spk, rng_misc = (np.random.default_rng(s) for s in ss.spawn(5))

    # ------------------------------------------------------------ event plan
    seizures = _plan_seizures(cfg, rng_sz)
    n_art = _stochastic_round(cfg.artifacts_per_240s * cfg.duration_s / 240.0, rng_long)
    art_durs = rng_long.uniform(*cfg.artifact_duration_s, size=n_art)
    dec_durs = rng_long.uniform(*cfg.amplitude_decoy_duration_s, size=cfg.amplitude_decoys)
    lengths = np.concatenate([[s["reserved"] for s in seizures], art_durs, dec_durs])
    starts = _place_intervals(lengths, duration, cfg.event_margin_s, rng_long)
    for sz, start in zip(seizures, starts[: len(seizures)], strict=True):
        sz["onset"] = float(start)
    art_starts = starts[len(seizures) : len(seizures) + n_art]
    dec_starts = starts[len(seizures) + n_art :]
    busy = np.stack([starts, starts + lengths], axis=1).reshape(-1, 2)
    busy = busy[np.argsort(busy[:, 0])]  # disjoint, so the ends are sorted too
    spike_times = _place_spikes(cfg.spike_rate_hz, duration, busy, rng_spk)
    spike_focus = rng_spk.integers(0, n_ch, size=len(spike_times))
    spike_jitter = rng_spk.uniform(*_JITTER, size=len(spike_times))

    # ----------------------------------------------------------- background
    data, betas, alpha_f = _background(cfg, n_times, rng_bg)
    gains = (
        rng_misc.uniform(*cfg.gain_range, size=n_ch)
        if cfg.gain_range is not None
        else np.ones(n_ch)
    )
    art_sign = rng_misc.choice([-1.0, 1.0], size=n_art)
    art_chan = rng_misc.uniform(*_JITTER, size=(n_art, n_ch))
    line_scale = rng_misc.uniform(0.8, 1.2, size=n_ch)
    line_phase = rng_misc.uniform(0, 2 * np.pi)

    # multiplicative modulations of the background (post-ictal, amplitude decoys)
    for sz in seizures:
        if not cfg.postictal:
            continue
        for c, delay in zip(sz["channels"], sz["delays"], strict=True):
            t0 = sz["onset"] + delay + sz["duration"]
            _modulate(
                data[c : c + 1],
                sfreq,
                t0,
                sz["postictal"],
                cfg.postictal_factor,
                ramp_in=0.25,
                ramp_out=min(2.0, 0.3 * sz["postictal"]),
            )
    for t0, dur in zip(dec_starts, dec_durs, strict=True):
        _modulate(data, sfreq, t0, dur, cfg.amplitude_decoy_factor, ramp_in=0.5, ramp_out=0.5)

    # -------------------------------------------------------------- events
    amp = float(cfg.amplitude)
    ch_idx, t_cplx, a_cplx = [], [], []
    for sz in seizures:
        for c, delay, g in zip(sz["channels"], sz["delays"], sz["gains"], strict=True):
            ch_idx.append(np.full(len(sz["times"]), c))
            t_cplx.append(sz["onset"] + delay + sz["times"])
            a_cplx.append(amp * g * sz["amps"])
    if len(spike_times):
        offsets = np.arange(-cfg.max_recruit_distance(), cfg.max_recruit_distance() + 1)
        sp_gain = np.exp(-np.abs(offsets) / cfg.propagation_length_channels)
        chans = spike_focus[:, None] + offsets[None, :]
        ok = (chans >= 0) & (chans < n_ch)
        ch_idx.append(chans[ok])
        t_cplx.append(np.broadcast_to(spike_times[:, None], chans.shape)[ok])
        a_cplx.append((amp * spike_jitter[:, None] * sp_gain[None, :])[ok])
    if ch_idx:
        _render_complexes(
            data, sfreq, np.concatenate(ch_idx), np.concatenate(t_cplx), np.concatenate(a_cplx)
        )
    art_peak = cfg.artifact_amplitude_ratio * amp
    for k, (t0, dur) in enumerate(zip(art_starts, art_durs, strict=True)):
        i0 = int(round(t0 * sfreq))
        n = max(3, int(round(dur * sfreq)))
        i1 = min(n_times, i0 + n)
        bump = np.hanning(n)[: i1 - i0].astype(np.float32)
        scale = (art_peak * art_sign[k] * art_chan[k]).astype(np.float32)
        data[:, i0:i1] += scale[:, None] * bump[None, :]

    # ------------------------------------------------ gains, line noise, volts
    data *= gains.astype(np.float32)[:, None]
    if cfg.line_noise_amplitude > 0:
        tt = np.arange(n_times) / sfreq
        line = (
            cfg.line_noise_amplitude * np.sin(2 * np.pi * cfg.line_noise_hz * tt + line_phase)
        ).astype(np.float32)
        for c in range(n_ch):
            data[c] += np.float32(line_scale[c]) * line
    data *= np.float32(cfg.background_rms_v)

    # ---------------------------------------------------------- bookkeeping
    events = _event_dicts(
        cfg,
        ch_names,
        seizures,
        art_starts,
        art_durs,
        art_sign,
        dec_starts,
        dec_durs,
        spike_times,
        spike_focus,
    )
    background = {
        "beta": [float(b) for b in betas],
        "alpha_freq_hz": [float(f) for f in alpha_f],
        "gain": [float(g) for g in gains],
    }
    logger.debug(
        "make_synthetic_ieeg: %d ch x %d samples, %d events in %.2f s",
        n_ch,
        n_times,
        len(events),
        time.perf_counter() - t_start,
    )
    return SyntheticIEEG(
        data=data,
        sfreq=sfreq,
        ch_names=ch_names,
        positions=positions,
        events=events,
        config=cfg,
        background=background,
    )


# =============================================================================
# Building blocks
# =============================================================================
def _channel_layout(n_ch: int) -> tuple[list[str], np.ndarray]:
    """Names and head-frame positions: parallel left shafts of up to 16 contacts."""
    idx = np.arange(n_ch)
    shaft, contact = divmod(idx, CONTACTS_PER_SHAFT)
    names = [f"L{chr(ord('A') + s)}{k + 1}" for s, k in zip(shaft, contact, strict=True)]
    pos = np.empty((n_ch, 3))
    pos[:, 0] = -0.065 + contact * CONTACT_SPACING_M  # lateral -> medial
    pos[:, 1] = 0.04 - 0.012 * (shaft % 8)  # anterior -> posterior
    pos[:, 2] = 0.02 - 0.015 * (shaft // 8)  # superior -> inferior
    return names, pos


def _stochastic_round(x: float, rng: np.random.Generator) -> int:
    base = math.floor(x)
    return int(base + (rng.random() < x - base))


def _plan_seizures(cfg: SyntheticIEEGConfig, rng: np.random.Generator) -> list[dict]:
    """Draw everything about each seizure except its onset time."""
    out = []
    step = 1.0 / (cfg.sfreq * 4)  # fine grid for the phase integral
    for _ in range(cfg.n_seizures):
        c0 = int(rng.integers(0, cfg.n_channels))
        dur = float(rng.uniform(*cfg.seizure_duration_s))
        fa = float(rng.uniform(*cfg.start_freq_hz))
        fb = float(rng.uniform(*cfg.end_freq_hz))
        post = float(rng.uniform(*cfg.postictal_duration_s)) if cfg.postictal else 0.0
        # complex times: phase phi(t) = fa t + (fb - fa) t^2 / (2 dur) crosses integers
        tg = np.arange(0.0, dur + step, step)
        phase = fa * tg + (fb - fa) * tg**2 / (2.0 * dur)
        times = np.interp(np.arange(0, math.floor(phase[-1]) + 1), phase, tg)
        times = times[times <= dur]
        env = _envelope(times, dur)
        jitter = rng.uniform(*_JITTER, size=len(times))
        keep = env > 0
        reach = cfg.max_recruit_distance()
        chans = np.arange(max(0, c0 - reach), min(cfg.n_channels, c0 + reach + 1))
        dist = np.abs(chans - c0)
        g = np.exp(-dist / cfg.propagation_length_channels)
        sel = g >= cfg.recruitment_threshold - 1e-12
        chans, dist, g = chans[sel], dist[sel], g[sel]
        delays = dist * cfg.propagation_delay_s
        out.append(
            {
                "c0": c0,
                "duration": dur,
                "fa": fa,
                "fb": fb,
                "postictal": post,
                "times": times[keep],
                "amps": (env * jitter)[keep],
                "channels": chans,
                "delays": delays,
                "gains": g,
                "reserved": dur + float(delays.max()) + post,
            }
        )
    return out


def _envelope(t: np.ndarray, dur: float) -> np.ndarray:
    """Raised-cosine rise over SEIZURE_RISE_S and fall over SEIZURE_FALL_S."""
    env = np.ones_like(t)
    rise = t < SEIZURE_RISE_S
    env[rise] = 0.5 * (1 - np.cos(np.pi * t[rise] / SEIZURE_RISE_S))
    fall = t > dur - SEIZURE_FALL_S
    env[fall] = 0.5 * (1 + np.cos(np.pi * (t[fall] - (dur - SEIZURE_FALL_S)) / SEIZURE_FALL_S))
    return np.clip(env, 0.0, 1.0)


def _place_intervals(
    lengths: np.ndarray, total: float, margin: float, rng: np.random.Generator
) -> np.ndarray:
    """Uniformly random non-overlapping placement of intervals with margins.

    Returns the start time of each interval (in the order of ``lengths``).
    """
    k = len(lengths)
    if k == 0:
        return np.zeros(0)
    slack = total - float(np.sum(lengths)) - (k + 1) * margin
    if -1e-6 < slack < 0:  # rounding only
        slack = 0.0
    if slack < 0:  # validate() checks the worst case, so this is only a safeguard
        raise ParameterError(
            f"duration_s={total:g} cannot hold {k} events of total length "
            f"{np.sum(lengths):.1f} s with event_margin_s={margin:g}; increase duration_s."
        )
    gaps = np.sort(rng.uniform(0.0, slack, size=k))
    order = rng.permutation(k)
    starts = np.empty(k)
    cursor = margin
    for rank, i in enumerate(order):
        starts[i] = cursor + gaps[rank]
        cursor += lengths[i] + margin
    return starts


def _place_spikes(
    rate: float, duration: float, busy: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Poisson spike times that keep clear of ``busy`` intervals and of each other."""
    n = int(rng.poisson(rate * duration)) if rate > 0 else 0
    times = np.sort(rng.uniform(0.0, duration, size=n))
    lo = times - 3 * SPIKE_SIGMA_S
    hi = times + WAVE_DELAY_S + 3 * WAVE_SIGMA_S
    ok = (lo >= 0.1) & (hi <= duration - 0.2)
    if len(busy):
        clear = _SPIKE_CLEARANCE_S
        # first busy interval ending after lo - clear must start after hi + clear
        j = np.searchsorted(busy[:, 1], lo - clear, side="left")
        nxt = np.where(j < len(busy), busy[np.minimum(j, len(busy) - 1), 0], np.inf)
        ok &= nxt > hi + clear
    times, lo, hi = times[ok], lo[ok], hi[ok]
    kept: list[float] = []
    last_hi = -np.inf
    for t, a, b in zip(times, lo, hi, strict=True):
        if a - last_hi >= _SPIKE_CLEARANCE_S:
            kept.append(float(t))
            last_hi = b
    return np.asarray(kept)


def _background(
    cfg: SyntheticIEEGConfig, n_times: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-RMS aperiodic background with AR(1) spatial correlation, float32."""
    n_ch = cfg.n_channels
    n_fft = scipy.fft.next_fast_len(n_times, real=True)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / cfg.sfreq)
    log_f = np.log(np.maximum(freqs, 1e-12))
    betas = rng.uniform(*cfg.beta_range, size=n_ch)
    alpha_f = rng.uniform(*cfg.alpha_freq_hz, size=n_ch)
    innov = math.sqrt(1.0 - cfg.rho**2)
    out = np.empty((n_ch, n_times), dtype=np.float32)
    prev: np.ndarray | None = None
    spec = np.empty(len(freqs), dtype=np.complex128)
    for c in range(n_ch):
        beta = betas[c]
        knee = cfg.knee_hz**beta
        psd = 1.0 / (knee + np.exp(beta * log_f))
        if cfg.alpha_peak_ratio > 0:
            fa = alpha_f[c]
            peak = cfg.alpha_peak_ratio / (knee + fa**beta)
            psd += peak * np.exp(-0.5 * ((freqs - fa) / _ALPHA_SIGMA_HZ) ** 2)
        amp = np.sqrt(psd)
        amp[0] = 0.0  # no DC
        spec.real = rng.standard_normal(len(freqs))
        spec.imag = rng.standard_normal(len(freqs))
        spec *= amp
        x = scipy.fft.irfft(spec, n=n_fft)[:n_times]
        x /= _rms(x)
        if prev is not None:
            x *= innov
            x += cfg.rho * prev
            x /= _rms(x)
        out[c] = x
        prev = x
    return out, betas, alpha_f


def _rms(x: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(x))))
    return r if r > 0 else 1.0


def _modulate(
    rows: np.ndarray,
    sfreq: float,
    t0: float,
    dur: float,
    factor: float,
    *,
    ramp_in: float,
    ramp_out: float,
) -> None:
    """Scale ``rows[:, t0:t0+dur]`` by ``factor`` in place with raised-cosine ramps."""
    n_times = rows.shape[1]
    i0 = max(0, int(round(t0 * sfreq)))
    i1 = min(n_times, int(round((t0 + dur) * sfreq)))
    if i1 <= i0:
        return
    t = (np.arange(i0, i1) + 0.5) / sfreq - t0
    w = np.ones_like(t)
    if ramp_in > 0:
        r = t < ramp_in
        w[r] = 0.5 * (1 - np.cos(np.pi * t[r] / ramp_in))
    if ramp_out > 0:
        r = t > dur - ramp_out
        w[r] = np.minimum(w[r], 0.5 * (1 + np.cos(np.pi * (t[r] - (dur - ramp_out)) / ramp_out)))
    scale = (1.0 + (factor - 1.0) * np.clip(w, 0, 1)).astype(np.float32)
    rows[:, i0:i1] *= scale[None, :]


def _render_complexes(
    data: np.ndarray, sfreq: float, chans: np.ndarray, times: np.ndarray, amps: np.ndarray
) -> None:
    """Add spike-and-wave complexes (spike peak ``-amp`` at ``time``) in place."""
    n_ch, n_times = data.shape
    pre = int(math.ceil(_PRE_S * sfreq))
    width = pre + int(math.ceil(_POST_S * sfreq)) + 1
    rel = np.arange(width)
    flat = data.reshape(-1)
    per_batch = max(1, _RENDER_BATCH // width)
    inv_s = 1.0 / (2 * SPIKE_SIGMA_S**2)
    inv_w = 1.0 / (2 * WAVE_SIGMA_S**2)
    for b in range(0, len(times), per_batch):
        t = times[b : b + per_batch]
        start = np.floor(t * sfreq).astype(np.int64) - pre
        idx = start[:, None] + rel[None, :]
        tau = idx / sfreq - t[:, None]
        wave = -np.exp(-(tau**2) * inv_s) + WAVE_RATIO * np.exp(
            -((tau - WAVE_DELAY_S) ** 2) * inv_w
        )
        wave *= amps[b : b + per_batch, None]
        valid = (idx >= 0) & (idx < n_times)
        flat_idx = (chans[b : b + per_batch, None].astype(np.int64) * n_times + idx)[valid]
        np.add.at(flat, flat_idx, wave[valid].astype(np.float32))


def _event_dicts(
    cfg: SyntheticIEEGConfig,
    ch_names: list[str],
    seizures: list[dict],
    art_starts: np.ndarray,
    art_durs: np.ndarray,
    art_sign: np.ndarray,
    dec_starts: np.ndarray,
    dec_durs: np.ndarray,
    spike_times: np.ndarray,
    spike_focus: np.ndarray,
) -> list[dict]:
    events: list[dict] = []
    for sz in seizures:
        offset = sz["onset"] + sz["duration"] + float(sz["delays"].max())
        events.append(
            {
                "kind": "seizure",
                "onset": float(sz["onset"]),
                "offset": float(offset),
                "onset_channel": ch_names[sz["c0"]],
                "start_freq_hz": sz["fa"],
                "end_freq_hz": sz["fb"],
                "channel_delays_s": {
                    ch_names[c]: float(d) for c, d in zip(sz["channels"], sz["delays"], strict=True)
                },
                "channel_gains": {
                    ch_names[c]: float(g) for c, g in zip(sz["channels"], sz["gains"], strict=True)
                },
                "focal_duration_s": sz["duration"],
                "n_complexes": int(len(sz["times"])),
                "postictal_offset": float(offset + sz["postictal"]) if cfg.postictal else None,
            }
        )
    for t0, dur, sign in zip(art_starts, art_durs, art_sign, strict=True):
        events.append(
            {
                "kind": "artifact",
                "onset": float(t0),
                "offset": float(t0 + dur),
                "polarity": int(sign),
            }
        )
    for t0, dur in zip(dec_starts, dec_durs, strict=True):
        events.append(
            {
                "kind": "amplitude_decoy",
                "onset": float(t0),
                "offset": float(t0 + dur),
                "factor": float(cfg.amplitude_decoy_factor),
            }
        )
    for t, c in zip(spike_times, spike_focus, strict=True):
        events.append(
            {
                "kind": "interictal_spike",
                "onset": float(t - 3 * SPIKE_SIGMA_S),
                "offset": float(t + WAVE_DELAY_S + 3 * WAVE_SIGMA_S),
                "spike_time": float(t),
                "channel": ch_names[int(c)],
            }
        )
    events.sort(key=lambda e: e["onset"])
    return events
