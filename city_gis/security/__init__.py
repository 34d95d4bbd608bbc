"""Request-level security helpers: trusted client address, expiring API tokens, outage middleware."""
