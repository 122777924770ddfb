"""A decoder-only transformer written from scratch in PyTorch: model, tokenizer, training, decoding.

Nothing is imported here so that ``import citegraph.models.scratch`` stays free of torch; use the
submodules (``model``, ``train``, ``generate``, ``chat_model``).
"""
