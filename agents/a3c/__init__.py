"""A3C (Mnih et al. 2016): the trainer, its worker processes or Ray actors, the parameter
server that applies their gradients (Hogwild), the shared optimisers and the worker pools.
The parts every algorithm shares (model, rollout, losses, evaluation, the run around it)
are in :mod:`fw_rl.agents`."""
