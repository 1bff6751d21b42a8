"""Unit tests of _modules/ (the execution module), one file per module."""
