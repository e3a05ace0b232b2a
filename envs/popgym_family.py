"""POPGym's envs (Morad et al. 2023) as an env family (:mod:`fw_rl.envs.family`): every
episode's return lies in [-1, 1] by POPGym's design, which its normalised MMER and our
reports use."""

from fw_rl.envs.family import EnvFamily, id_matches

POPGYM = EnvFamily(name="POPGym", claims=id_matches(prefix="popgym-"), return_range=(-1.0, 1.0))
