"""reenact: animate a still portrait with first-order motion."""

__version__ = "0.1.0"
