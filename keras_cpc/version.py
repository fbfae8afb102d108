"""The package version, in a module of its own so that lower layers (presets) can record it
without importing the package root, which imports every subpackage."""

__version__ = "0.1.0"
