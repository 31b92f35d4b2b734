"""A YouTube Data API v3 emulator, faithful to the wire format, used by the demo and the tests."""
