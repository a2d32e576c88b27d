"""The ``Bilan`` client and the backends it writes through (the local database or a Bilan server).

May import: the base modules, ``privacy``, ``store``, ``analytics``, ``chat`` and ``remote``.
"""

from bilan_core.client.bilan import Bilan

__all__ = ["Bilan"]
