"""Wire-format adapters, one module per provider kind. Pure Python: no Django imports (import-linter checks)."""
