"""Training: the model registry, `TrainConfig`, augmentation, the one pipeline that
`python -m fashion train` and the Playground both run, `calibrate` (views, temperature,
fitting the not-a-garment check) and the Playground's limits, worker and job queue.

May import: every stage but `ui`.
"""
