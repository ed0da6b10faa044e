"""Triage: what a post is and how urgent (pure, apart from loading models and lexicons).

sentiment: VADER and the priority rules.
"""
