"""Versioned prompts: the ``PromptVersion`` value, its ``{{variable}}`` templates, and the checks of new ones.

May import: ``store`` and the base modules. Nothing above. The tables and their writes are in
``store.prompts``; this package turns rows into values and checks what a caller asks to store.
"""
