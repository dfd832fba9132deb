"""Stand-ins for the outside world in tests and the demo: emulated devices, local APNs."""
