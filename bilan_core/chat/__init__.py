"""Tracked chat: OpenAI calls recorded as turns (plain, streaming, async), tools, routing, the demo model.

May import: the base modules, ``store`` and ``analytics``.
"""
