"""Administration: users, their roles, access and budgets, platform-wide usage and the queue."""
