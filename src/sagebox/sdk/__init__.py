"""Pythonic classes in the spirit of the SageMaker Python SDK, built on the control plane."""
