"""The organization's configuration objects, SCIM provisioning, a member's own view."""
