"""ytcollect's domain: input parsing, the YouTube client and emulator, runs, storage and completion.

Nothing in this package imports Dramatiq; the actors in ``actors/`` are thin wrappers over it.
"""
