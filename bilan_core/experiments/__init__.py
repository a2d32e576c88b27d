"""Experiments: A/B comparisons, the Bradley–Terry leaderboard, batch files and batch runs.

May import: everything below ``client`` and ``client`` itself.
"""
