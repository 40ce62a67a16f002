"""The participant API (FastAPI): the same market commands as the console, over HTTP, with the participants'
own keys. ``create_app`` builds the ASGI app; ``ApiServer`` runs it with uvicorn on the current loop."""
