"""A variational auto-encoder (Kingma & Welling 2014) as a comparison generator.

paper symbol                                   code name
q_φ(z|x) = N(μ, diag σ²), log σ²               mu, logvar = model.encode(x)
z = μ + σ ⊙ ε, ε ~ N(0, I)                     reparameterize(mu, logvar, eps)
p_θ(x|z) = Bernoulli(sigmoid(logits))          logits = model.decode(z)
ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I))  elbo = −(reconstruction_loss + kl_divergence)

Explained in ``notebooks/07_few_shot_generation.ipynb``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import finite_loss, positive_int
from ..training import LoopSpec, StepResult, run_loop
from .hypergrad import check_lr


class VAE(nn.Module):
    """MLP encoder/decoder for 28×28 images: x [B, 1, 28, 28] ↔ z [B, z_dim]."""

    def __init__(self, z_dim: int = 16, hidden: int = 256, image_size: int = 28):
        super().__init__()
        self.z_dim, self.image_size = z_dim, image_size
        d = image_size * image_size
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 2 * z_dim))
        self.decoder = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, d))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)                         # [B, z_dim] each
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        s = self.image_size
        return self.decoder(z).view(-1, 1, s, s)                             # logits [B, 1, s, s]

    def forward(self, x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, z = μ + σ ⊙ ε with the given ε (noise [B, z_dim]), decode: → (logits, μ,
        log σ²). A forward of its own, so ``torch.func.functional_call`` runs the VAE on
        explicit weights (``gan.meta_vae``)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, noise)), mu, logvar


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """z = μ + σ ⊙ ε with σ = exp(½ log σ²): sampling that gradients can pass through."""
    return mu + torch.exp(0.5 * logvar) * eps


def reconstruction_loss(x: Tensor, logits: Tensor) -> Tensor:
    """−log p(x|z) for a Bernoulli decoder: Σ_pixels BCE(sigmoid(logits), x), batch mean."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1).mean()


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), mean over the batch."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()


def elbo(x: Tensor, logits: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) = −(reconstruction_loss + kl_divergence)."""
    return -(reconstruction_loss(x, logits) + kl_divergence(mu, logvar))


def vae_forward(model: VAE, x: Tensor, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
    """Encode, sample z by reparameterisation, decode (``VAE.forward`` with ε ~ N(0, I) drawn
    from ``generator``): → (logits, μ, log σ²)."""
    eps = torch.randn(x.shape[0], model.z_dim, generator=generator).to(x.device)    # [B, z]
    return model(x, eps)


def train_vae(model: VAE, images: Tensor, steps: int, lr: float = 1e-3, batch_size: int = 64,
              seed: int = 0, progress: bool = False) -> dict[str, list[float]]:
    """Maximise the ELBO with Adam on images [N, 1, 28, 28] in [0, 1] (on the library's one loop,
    ``training.run_loop``); returns per-step terms. A non-finite loss raises
    ``checks.TrainingDiverged`` before the step is applied."""
    check_lr("lr", lr)
    positive_int("steps", steps, minimum=0)
    positive_int("batch_size", batch_size)
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = torch.Generator().manual_seed(seed)

    def step(it: int) -> StepResult:
        x = images[torch.randint(0, len(images), (batch_size,), generator=rng)].to(device)
        logits, mu, logvar = vae_forward(model, x, rng)
        rec, kl = reconstruction_loss(x, logits), kl_divergence(mu, logvar)
        loss = rec + kl                                                        # −ELBO
        value = finite_loss("−ELBO", loss.item(), f"lower lr (now {lr:g})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return StepResult(value, {"elbo": -value, "reconstruction": rec.item(), "kl": kl.item()})

    spec = LoopSpec(iterations=steps, params=lambda: dict(model.named_parameters()), desc="VAE",
                    fix=f"lower lr (now {lr:g})", progress=progress)
    history = run_loop(step, spec)
    return {k: history.get(k, []) for k in ("elbo", "reconstruction", "kl")}


def vae_samples(model: VAE, n: int, seed: int = 0) -> Tensor:
    """x ~ p_θ(x|z), z ~ N(0, I), shown as the Bernoulli means sigmoid(logits): [n, 1, 28, 28]."""
    z = torch.randn(n, model.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return torch.sigmoid(model.decode(z.to(next(model.parameters()).device)))
