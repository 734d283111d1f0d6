"""Models of this app arrive with its rules (see RULES.md)."""
