"""Dimple-Tiny: a product of its own, beside the inference library.

Owns Dimple-Tiny's drawn world, its language (phrasings, conversations,
replies outside the world), its tokenizer, training data, training loop and
evaluations. The inference library (`dimple/`) imports only the pieces it
needs to show Tiny's card and evaluate it, never the training code.
"""
