"""``python -m sagebox``: the same as the ``sagebox`` command."""

from sagebox.cli import main

main()
