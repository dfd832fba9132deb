"""The reader link: pairing, signed cache content, reader events, hub rebuilds."""
