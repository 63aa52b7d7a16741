"""The sinusoid regressor of the MAML paper: 1 → 40 → 40 → 1 with ReLU."""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """x [..., in_features] → [..., out_features]; hidden sizes default to (40, 40)."""

    def __init__(self, in_features: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_features: int = 1, activation: str = "relu"):
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        sizes = [in_features, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), act()]
        layers.append(nn.Linear(sizes[-1], out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
