"""`passgate demo`: the whole product on one machine, and the scripted story that tells it."""
