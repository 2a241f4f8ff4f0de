"""Quicken: maintain, build, measure and upstream CPython specialization patches."""

__version__ = "0.1.0"
