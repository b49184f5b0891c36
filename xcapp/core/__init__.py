"""Shared building blocks: units, roles, authorization, time helpers."""
