"""Input validation of the analytics pages, one module per concern."""
