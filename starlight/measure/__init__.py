"""Measurement: points on the linear path between two models (`interpolate`), BatchNorm re-estimation (`bn`),
loss and accuracy (`metrics`), curves, barriers and path metrics (`barrier`), and ensembles (`ensembles`). Builds
on `models`, `data` and `align`; knows nothing of the pipeline."""
