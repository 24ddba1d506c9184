"""Device kinds: one thin shell per kind around its pure model (``homesim.devices.models``)."""
