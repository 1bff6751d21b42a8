"""Unit tests of _grains/ (the grain), one file per module."""
