"""Unit tests of _beacons/ (the beacon), one file per module."""
