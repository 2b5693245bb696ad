"""Analysis: how a model does on the official test set. Evaluation, metrics, two models
compared, the map of the test set, and the Plotly charts the pages draw from these.

May import: `data`, `trust`, `serving`; never `training` or Streamlit.
"""
