"""REST API v1."""

API_PREFIX = "/api/v1"
