"""Built-in face stages (filled in by the face-enhancement work)."""
