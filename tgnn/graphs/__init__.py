"""tgnn.graphs."""
