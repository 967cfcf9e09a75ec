"""Lantian (蓝天): supervision of industrial air emissions."""

__version__ = "0.1.0"
