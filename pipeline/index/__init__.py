"""Elasticsearch: the client, the case's index and alias, and bulk writing."""
