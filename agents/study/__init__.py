"""Studies: grids of A3C runs (cores x settings x options x seeds), run resumably and
reported with rliable (see ``scripts/study.py``)."""
