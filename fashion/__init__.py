"""Fashion-MNIST: data, models, training, inference and the pieces the app shows."""

__version__ = "0.1.0"
