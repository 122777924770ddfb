"""Graph wiring only: StateGraph builders, edges, interrupts, retry policies."""
