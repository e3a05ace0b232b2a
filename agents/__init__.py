"""The A3C agent: actor-critic model, workers, shared optimisers, trainer, evaluation."""
