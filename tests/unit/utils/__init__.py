"""Unit tests of _utils/, one file per module."""
