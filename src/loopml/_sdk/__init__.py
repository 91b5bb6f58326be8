"""The SDK face's compositions: calls that join several components (floor 7).

``loopml/__init__.py`` exposes these lazily; components below cannot import each other
across a floor, so what ties, say, a dataset to the active run lives here.
"""
