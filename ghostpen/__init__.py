"""GhostPen ghostpen."""
