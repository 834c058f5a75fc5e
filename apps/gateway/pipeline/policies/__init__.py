"""Policy steps of the pipeline (limits, budgets, cache, …) and the seam they plug into (base.py)."""

from apps.gateway.pipeline.policies.base import Answer, CallContext, PolicyStep

__all__ = ["Answer", "CallContext", "PolicyStep"]
