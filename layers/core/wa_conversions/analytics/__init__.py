"""Conversation analytics: counters kept as events arrive, metrics read from them, and the report."""
