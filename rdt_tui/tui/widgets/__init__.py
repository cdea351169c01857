"""One widget per module; each gets its data as attributes or method calls from its screen."""
