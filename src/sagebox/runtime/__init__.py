"""Executors that run jobs by the container contract (ARCHITECTURE section 3)."""
