"""GANs and meta-learned few-shot generation.

losses.py    minimax, non-saturating, least squares, WGAN-GP, hinge, R1; D* = p_data/(p_data+p_g)
models.py    DCGAN-style G/D for 28×28 (optionally class-conditional); MLP G/D for 2-D toys
toy2d.py     2-D targets (ring, grid, line, two moons) and 1-D Gaussians for the D* check
hypergrad.py hypergradient descent: online-learned learning rates of G and D
train.py     GANConfig, train_steps(state, n), non-finite and mode-collapse checks
fewshot.py   Reptile-trained GAN (FIGR-like): a class as a two-player task, adaptation from K
             shots (also MAML / FOMAML outer steps, cfg.method, and WGAN-GP's penalty in D's
             inner loss)
fewshot_eval.py  the pooled-DCGAN baseline, Fréchet distance per unseen class of any few-shot
             generator, each method's adaptation α chosen on validation classes

A run that diverges raises ``checks.TrainingDiverged`` (re-exported here), as everywhere.
metrics.py   Fréchet distance on in-domain features (torchmetrics), sample grids
recognisability.py  few-shot generator evaluation: recognisability by a ProtoNet critic,
             diversity, in-domain Inception Score (Boutin et al. 2022)
cyclegan.py  a small CycleGAN between thin- and thick-stroke characters
vae.py       VAE with ELBO = −(reconstruction + KL)
meta_vae.py  Reptile-trained VAE over classes (−ELBO per class), adaptation from K shots, sampling
statistician.py  Neural-Statistician-style conditional VAE: one-shot generation amortised through
             the context c of the shots (no gradient step at test time)
personalise.py  personalised generation: the learner picks samples, the statistician adapts
             towards them (0 steps: their context; k steps: −ELBO of the picks on a copy)
"""

from ..checks import TrainingDiverged
from .losses import LOSSES, get_losses, gradient_penalty, optimal_discriminator, r1_penalty
from .models import DCDiscriminator, DCGenerator, ToyDiscriminator, ToyGenerator
from .personalise import (
    adapt_to_picks,
    check_picks,
    closeness,
    personalised_routes,
    split_picks,
)
from .recognisability import (
    diversity,
    evaluate_generator_metrics,
    format_metrics,
    gan_generators,
    inception_score,
    inception_score_of,
    recognisability,
    summarise_metrics,
)
from .statistician import Statistician, StatisticianConfig, train_statistician
from .train import (
    GANConfig,
    GANState,
    ModeCollapseError,
    make_gan_state,
    train_steps,
)

__all__ = ["LOSSES", "DCDiscriminator", "DCGenerator", "GANConfig", "GANState",
           "ModeCollapseError", "ToyDiscriminator", "ToyGenerator", "TrainingDiverged",
           "get_losses", "gradient_penalty", "make_gan_state", "optimal_discriminator",
           "r1_penalty", "train_steps"]
__all__ += ["diversity", "evaluate_generator_metrics", "gan_generators", "inception_score",
            "inception_score_of", "recognisability", "summarise_metrics", "format_metrics"]
__all__ += ["Statistician", "StatisticianConfig", "train_statistician"]
__all__ += ["adapt_to_picks", "check_picks", "closeness", "personalised_routes", "split_picks"]
