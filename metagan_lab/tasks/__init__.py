"""Tasks: few-shot image episodes and the sinusoid regression family."""

from .episodes import EpisodeSampler, check_episode_shape, sample_episode, split_support_query
from .sinusoid import SinusoidTasks, sample_sinusoid_tasks

__all__ = ["EpisodeSampler", "SinusoidTasks", "check_episode_shape", "sample_episode",
           "sample_sinusoid_tasks", "split_support_query"]
