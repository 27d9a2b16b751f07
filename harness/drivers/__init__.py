"""Drivers send /productpage requests through the gateway and stream classified observations."""
