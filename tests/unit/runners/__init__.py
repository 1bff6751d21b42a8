"""Unit tests of _runners/ (the runner), one file per module."""
