"""Supervised behaviour classifiers on pose features (pure: no database).

- :mod:`.features`: per-animal and per-pair pose features, frames x features;
- :mod:`.train`: splits by recording or by time block, per-behaviour binary
  models, thresholds, bouts, model files checked by sha256;
- :mod:`.evaluate`: frame, bout and bout-statistic metrics, cross-validation
  over time blocks, learning curves.
"""
