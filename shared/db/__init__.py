"""Database access: one MetaData, engines, and the unit of work."""
