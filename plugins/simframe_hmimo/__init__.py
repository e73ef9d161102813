"""Built-in plugin package simframe_hmimo."""
