"""HTTP routes only: parse, call a service, return its schema."""
