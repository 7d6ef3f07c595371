"""The HTTP service of chainmatch."""
