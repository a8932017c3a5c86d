"""Data preparation: formats, previews and sampling, synthetic data, quality reports."""
