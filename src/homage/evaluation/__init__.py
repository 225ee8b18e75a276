"""Evaluation: retrieval metrics on distance matrices, the original project's pair protocol, reports."""
