"""Encoding models: images → fMRI responses (transformer brain encoders and baselines).

Estimators follow scikit-learn (``fit``, ``predict``, ``score``,
``get_params``/``set_params``, fitted attributes ending in ``_``) and take
NumPy, torch or xarray inputs.
"""

from neuroattn.encoding.transformer import SpatialFeatureEncoder, TransformerBrainEncoder

__all__ = ["SpatialFeatureEncoder", "TransformerBrainEncoder"]
