"""Minyi: the citizen-appeal platform (民意速办 / 接诉即办)."""

__version__ = "0.1.0"
