"""Batches: up to 1000 generation jobs submitted, tracked and canceled together."""
