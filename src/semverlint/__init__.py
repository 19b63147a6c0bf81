"""Semantic versioning for data models."""

__version__ = "0.1.0"
