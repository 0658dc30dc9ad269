"""GhostPen shared."""
