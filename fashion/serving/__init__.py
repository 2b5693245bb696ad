"""Serving: a shipped model answering. Engines (TFLite / Keras), `Classifier` and
`Prediction`, export, the speed bench, `serve` (one process or K behind nginx), the
`predict` command and the files a user downloads.

May import: the stages below (`data`, `trust`) and TensorFlow; never Streamlit.
"""
