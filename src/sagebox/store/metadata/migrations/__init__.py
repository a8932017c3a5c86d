"""Alembic migrations of the metadata store, run by ``open_metadata_store`` (no alembic.ini).

``HEAD`` names the newest revision, so that opening an up-to-date database needs one
SELECT and no Alembic import. Bump it with every new file in ``versions/``; a test
checks that it matches the scripts.
"""

HEAD = "0001"
