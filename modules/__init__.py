"""Constructs, one per concern. Importing this package imports nothing of cdktf."""
