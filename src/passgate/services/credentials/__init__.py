"""What opens doors: Apple Passes, Wallet, PassKit, app credentials, Aliro groups."""
