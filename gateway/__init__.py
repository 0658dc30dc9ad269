"""GhostPen gateway."""
