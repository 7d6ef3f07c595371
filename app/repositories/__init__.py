"""Every database query of the service lives here, one module per domain."""
