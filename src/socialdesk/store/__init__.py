"""Persistence: SQLModel tables and plain functions that take a keyword-only session."""
