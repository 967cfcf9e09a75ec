"""Ledgers (台账): registry of enterprises, outlets and monitoring points, and more.

The programme, transport and production ledgers are built on the registry.
"""
