"""Web pages of the prompt workbench, one module per page family (test cases, playground, …)."""
