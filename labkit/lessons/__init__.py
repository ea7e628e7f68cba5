"""Helpers the notebooks call: one module per lesson topic."""
