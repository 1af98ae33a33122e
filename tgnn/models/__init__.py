"""tgnn.models."""
