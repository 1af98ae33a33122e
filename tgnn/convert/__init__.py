"""tgnn.convert."""
