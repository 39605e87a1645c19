"""Training: a leaf package. Only the CLI imports it; nothing in inference depends on it."""
