"""simulate — annealing dynamics, success probabilities, samplers and the D-Wave adapter.

Not yet implemented: see the simulate and D-Wave issues.
"""

__all__: list[str] = []
