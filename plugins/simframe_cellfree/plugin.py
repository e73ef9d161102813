"""Registration of the built-in cellfree components."""
