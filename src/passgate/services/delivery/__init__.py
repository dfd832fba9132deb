"""Webhook subscriptions and the delivery of queued webhook messages."""
