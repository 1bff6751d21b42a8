"""Unit tests of _states/ (the state module), one file per module."""
