"""Tiny models built from configuration for the demo and the tests."""
