"""Data: find, verify and load the official files and their one split; decode uploads
safely; turn a photo, sketch or test image into the 28x28 the model sees; the images the
project draws itself (renders, non-garments, bad files, the app's examples).

May import: numpy, Pillow, `fashion.classes`. Never TensorFlow or Streamlit.
"""
