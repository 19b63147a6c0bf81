"""Semantic versioning for data models."""
