"""The package version: a leaf module (it imports nothing), read by ``setup.cfg``, the CLI's
``--version``, run records and the logged model's pinned requirements."""

__version__ = "0.1.0"
