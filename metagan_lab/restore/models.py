"""A small residual CNN restorer, F_θ(y) = y + g_θ(y), usable with explicit parameter dicts.

g_θ is ``depth`` 3×3 convolutions (``hidden`` channels, ReLU between them, zero padding), so the
network is fully convolutional and works on any image size. The last convolution starts at zero:
an untrained restorer is the identity, F_θ(y) = y, so "0 adaptation steps from scratch" returns
the degraded input. No BatchNorm: restoration nets rarely use it, and it keeps the meta-gradient
free of batch-statistics subtleties.

``bias=False`` removes every additive constant (Mohan, Kadkhodaie, Simoncelli & Fernandez-Granda,
"Robust and interpretable blind image denoising via bias-free CNNs", ICLR 2020): with ReLU, g_θ
is then positively homogeneous, g_θ(a·y) = a·g_θ(y) for a > 0, and such denoisers extend to
noise levels outside their training range.

Call it functionally: ``torch.func.functional_call(model, params, (y,))``.
"""

from __future__ import annotations

from torch import Tensor, nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class Restorer(nn.Module):
    """y [B, C, H, W] → F_θ(y) = y + g_θ(y), same shape."""

    def __init__(self, channels: int = 1, hidden: int = 32, depth: int = 4,
                 activation: str = "relu", identity_init: bool = True, bias: bool = True):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r}; choose from {sorted(_ACTIVATIONS)}")
        if depth < 2 or hidden < 1 or channels < 1:
            raise ValueError(f"need depth >= 2, hidden >= 1, channels >= 1; got depth={depth}, "
                             f"hidden={hidden}, channels={channels}")
        chans = [channels] + [hidden] * (depth - 1) + [channels]
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], kernel_size=3, padding=1, bias=bias))
            if i < depth - 1:
                layers.append(_ACTIVATIONS[activation]())
        self.body = nn.Sequential(*layers)
        self.channels = channels
        if identity_init:
            last = self.body[-1]
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)

    def forward(self, y: Tensor) -> Tensor:
        if y.dim() != 4 or y.shape[1] != self.channels:
            raise ValueError(f"Restorer expects [B, {self.channels}, H, W], got shape "
                             f"{tuple(y.shape)}")
        return y + self.body(y)                                           # residual: [B, C, H, W]
