"""The ``ghostpen`` command line: dev, migrate, gateway, worker, create-admin."""
