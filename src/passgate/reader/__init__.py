"""The door reader agent: pairs with the server, keeps a signed offline cache, decides
taps locally, drives the relay and forwards events (store-and-forward).

It talks to the server only over the network; it never imports the server's services
or storage.
"""
