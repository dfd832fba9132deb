"""Passgate: access control with door keys in Apple Wallet."""

__version__ = "0.1.0"
