"""rdt-tui: a terminal console for training robot-learning models on remote multi-GPU nodes."""

__version__ = "0.1.0"
