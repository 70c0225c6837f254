"""Training: the plain SGD loop (`loop`), the Starlight objective that trains a star against its anchors (`star`),
the budget search that trains a quality-matched control (`control`), optimizers and schedules (`optim`) and the
step-speed tricks (`speed`). Builds on `models`, `data`, `align` and `io`; knows nothing of the pipeline."""
