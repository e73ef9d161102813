"""Registration of the built-in hmimo components."""
