"""Stores: the metadata store (resources, tags, metrics) and the object store (s3:// URIs)."""
