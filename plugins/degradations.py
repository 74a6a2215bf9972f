"""Built-in degradations (filled in by the degradation work)."""
