"""Request and response shapes (XCreate / XUpdate / XRead)."""
