"""L3 plugins: the manager of entry-point plugins and the documented hookspecs.

Importing this package loads no plugin; :class:`PluginManager` does, on first use.
"""

from __future__ import annotations

from labelloop.plugins.manager import GROUP, BackendSpec, PluginManager

__all__ = ["GROUP", "BackendSpec", "PluginManager"]
