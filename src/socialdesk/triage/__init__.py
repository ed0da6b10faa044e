"""Triage: what a post is and how urgent (pure, apart from loading models and lexicons).

sentiment: VADER and the priority rules.
intent: complaint, question, praise or other, with the reasons and care topics (tags).
spam: a spam score from signals a team can read, and whether it is likely spam.
language: the language guessed locally (py3langid) when the network gives none.
similarity: the same text, and near-duplicates (storms).
vocabulary: the word lists intent and spam read posts with; phrases: how they are found.
"""
