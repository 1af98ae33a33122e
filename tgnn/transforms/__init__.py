"""tgnn.transforms."""
