"""reenact: one-shot, AU-driven facial reenactment (GANimation) as a practical pipeline."""

__version__ = "0.1.0"
