"""A development OpenID Connect provider with a real TOTP step, for demos and local trials.

Started with `passgate devidp serve`; it refuses to run unless PASSGATE_DEV_MODE is on.
"""
