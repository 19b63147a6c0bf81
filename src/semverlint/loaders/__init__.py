"""Loaders: one per project kind, each turning a snapshot folder into an Interface."""
