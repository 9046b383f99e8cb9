"""Encoding models: images → fMRI responses (transformer brain encoders and baselines)."""
