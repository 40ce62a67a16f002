"""Use cases of the console; they talk to ports, never to concrete drivers."""
