"""Metasurface physics shared by every SIM system: geometry, propagation, correlation."""
