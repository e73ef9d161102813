"""Built-in plugin package simframe_cellfree."""
