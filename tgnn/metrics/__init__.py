"""tgnn.metrics."""
