"""Privacy: erasing a person everywhere, the suppression of what was erased, and the export of what is
held about a person (docs/privacy.md)."""
