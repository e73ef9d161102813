"""Metasurface physics shared by every SIM system: geometry, inter-layer propagation, correlation."""
