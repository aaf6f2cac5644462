"""Spatial statistics: weights, the permutation engine, Gi*, Moran, rates, clusters, premises of concern, space-time."""
