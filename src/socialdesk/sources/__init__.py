"""Network sources: each turns a saved search into pages of normalized posts."""
