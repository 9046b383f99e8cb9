"""Encoding models: images → fMRI responses (transformer brain encoders and baselines).

Estimators follow scikit-learn (``fit``, ``predict``, ``score``,
``get_params``/``set_params``, fitted attributes ending in ``_``) and take
NumPy, torch or xarray inputs.
"""

from neuroattn.encoding.features import FeatureExtractor
from neuroattn.encoding.metrics import (
    algonauts_score,
    noise_ceiling,
    noise_normalized_accuracy,
    pearson_r,
)
from neuroattn.encoding.ridge import RidgeEncoder
from neuroattn.encoding.transformer import SpatialFeatureEncoder, TransformerBrainEncoder

__all__ = ["FeatureExtractor", "RidgeEncoder", "SpatialFeatureEncoder", "TransformerBrainEncoder",
           "algonauts_score", "noise_ceiling", "noise_normalized_accuracy", "pearson_r"]
