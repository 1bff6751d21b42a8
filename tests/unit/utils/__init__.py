"""Unit tests of _utils/, one file per module; assist_init/ is a folder (see there)."""
