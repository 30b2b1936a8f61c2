"""The ASGI application uvicorn serves."""

from minyi.api.app import create_app

app = create_app()
