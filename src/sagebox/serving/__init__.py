"""Serving models: the inference contract, endpoint workers and the endpoint data path."""
