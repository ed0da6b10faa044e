"""Scheduled work: polling sources and publishing cards."""
