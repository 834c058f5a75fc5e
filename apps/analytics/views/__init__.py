"""Web pages of the analytics app, one module per concern."""
