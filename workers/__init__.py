"""GhostPen workers."""
