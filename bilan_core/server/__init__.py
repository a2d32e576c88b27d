"""The Bilan server: a FastAPI app (``bilan_core.server.app.create_app``) that ingests wire events."""
