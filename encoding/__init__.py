"""encoding — the CNN side of qaxai: feature maps, relevance/redundancy, the selection QUBO.

Not yet implemented: see the encoding issue. The package exists so that the layout of
DESIGN.md holds from the start.
"""

__all__: list[str] = []
