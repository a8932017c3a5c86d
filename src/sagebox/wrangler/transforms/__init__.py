"""The built-in transforms, one small module per family (see ``registry.py`` for the list)."""
