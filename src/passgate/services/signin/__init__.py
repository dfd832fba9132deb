"""How members sign in: the SSO connection, browser and app logins, the IdP's answer."""
