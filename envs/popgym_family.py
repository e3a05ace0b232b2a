"""POPGym's envs (Morad et al. 2023) as an env family (:mod:`fw_rl.envs.family`).

POPGym scales its rewards so that an episode's return lies in [-1, 1] for most of its envs,
the range its normalised MMER (``0.5 MMER + 0.5``) assumes; our reports scale by it too.
Not all: Battleship's episode of misses only returns ``-L / (L - hits needed)``, below -1
(``popgym/envs/battleship.py``), so its scaled scores can fall below 0.
"""

from fw_rl.envs.family import EnvFamily, id_matches

POPGYM = EnvFamily(name="POPGym", claims=id_matches(prefix="popgym-"), return_range=(-1.0, 1.0))
