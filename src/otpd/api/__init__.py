"""Thin adapters, one package per vendor API: parse -> one service call -> render."""

__all__: list[str] = []
