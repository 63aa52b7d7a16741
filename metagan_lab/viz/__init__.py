"""Plotting (matplotlib only, imported lazily): functions take arrays/tensors, return figures.

One module per notebook topic: ``viz.fewshot``, ``viz.meta``, ``viz.gan``, ``viz.restore``.
"""
