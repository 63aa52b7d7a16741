"""Models usable with explicit parameter dicts through torch.func.functional_call."""

from .conv4 import Conv4, conv_block, params_of, seeded
from .mlp import MLP

__all__ = ["MLP", "Conv4", "conv_block", "params_of", "seeded"]
