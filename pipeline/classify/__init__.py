"""Supervised behaviour classifiers on pose features (pure: no database).

- :mod:`.features`: per-animal and per-pair pose features, frames x features;
- :mod:`.splits`: splits by recording (train/validation/test, k folds) and
  contiguous time blocks within one recording;
- :mod:`.train`: per-behaviour binary models, thresholds, bouts;
- :mod:`.modelfile`: model files written with their sha256 and read back only
  when it matches;
- :mod:`.evaluate`: frame, bout and bout-statistic measures on held-out series;
- :mod:`.crossval`: blocked cross-validation, its circular-shift permutation
  baseline, learning curves.
"""
