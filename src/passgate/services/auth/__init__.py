"""Who is calling: API keys, member sessions, the hash their secrets are stored under."""
