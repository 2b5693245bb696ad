"""Fashion-MNIST: a classifier and the Streamlit demo around it, one folder per stage.

Stages, lowest first; a module imports only from its own stage or a lower one:

    classes, card   the ten classes; a shipped model's card (what every stage reads)
    data/           the official files, uploads, preprocessing, the images we draw
    trust/          calibration maths, the serving-time not-a-garment check, saliency
    serving/        engines, Classifier / Prediction, export, bench, serve, predict
    analysis/       evaluation, metrics, comparisons, the map
    training/       the registry, TrainConfig, the one pipeline, calibrate, Playground
    ui/             the Streamlit pages (the only stage that imports Streamlit)

`python -m fashion` (__main__) is the one command line over all of them.
"""

__version__ = "0.1.0"
