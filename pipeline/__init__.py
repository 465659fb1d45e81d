"""Trawl: an e-discovery pipeline from mailboxes to search."""

__version__ = "0.1.0"
