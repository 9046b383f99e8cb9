"""Scanpath models and the scanpath-metrics library they share.

* :mod:`neuroattn.gaze.metrics` — scanpath similarity (edit distance,
  sequence score, ScanMatch, MultiMatch, SemSS), OAT's behavioural measures
  and saliency-map metrics.
* :mod:`neuroattn.gaze.oat` — OAT, the object-level attention transformer
  for visual search, with its baselines.

Fixation-to-object assignment, which readers and models share, is
:mod:`neuroattn.datasets.fixation_objects`.
"""
