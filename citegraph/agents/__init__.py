"""Agents: one module per agent, each exposing node functions ``(state, runtime) -> update``."""
