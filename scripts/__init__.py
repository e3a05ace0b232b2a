"""Command-line programs (also installed as console commands, see pyproject.toml)."""
