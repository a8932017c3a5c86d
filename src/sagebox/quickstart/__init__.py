"""The loan-default quickstart (``sagebox quickstart`` / ``make quickstart``)."""
