"""The ASGI application: one Starlette app serving every API on one port."""

__all__: list[str] = []
