"""The YouTube Data API client: key pool, quota ledger, typed errors and response parsers."""
