"""Models: the registry (later) and local models; subpackages import their heavy dependencies lazily."""
