"""Use cases: each takes a session, validates against stored data and returns read schemas."""
