"""Scanpath models and the scanpath-metrics library they share.

* :mod:`neuroattn.gaze.metrics` — scanpath similarity (edit distance,
  sequence score, ScanMatch, MultiMatch, SemSS), OAT's behavioural measures
  and saliency-map metrics.
* :mod:`neuroattn.gaze.objects` — fixation-to-object assignment.
* :mod:`neuroattn.gaze.oat` — OAT, the object-level attention transformer
  for visual search, with its baselines.
"""
