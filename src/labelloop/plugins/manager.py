"""The plugin manager: entry points of the group ``labelloop.plugins``, loaded on first use.

Built by ``cli.main`` / ``api.app.create_app`` (or a test) and passed down; nothing is loaded at
import time. A plugin that fails to load is recorded, not fatal: lookups list it as broken.

Example:
    >>> pm = PluginManager(entry_points=[])
    >>> def register_backends(register):
    ...     register("demo.none", lambda config: None, description="a stand-in")
    >>> pm.register_module("demo", register_backends=register_backends)
    >>> pm.backend_names()
    ['demo.none']
    >>> pm.backend_spec("nope")
    Traceback (most recent call last):
    ...
    labelloop.errors.PluginError: no backend 'nope'; available: demo.none
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from types import SimpleNamespace
from typing import Any, cast

from labelloop.core.plugins import Backend, BackendFactory
from labelloop.errors import LabelloopError, PluginError
from labelloop.plugins.hookspecs import HOOKS

__all__ = ["GROUP", "BackendSpec", "PluginManager"]

GROUP = "labelloop.plugins"


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A registered backend: its factory (or ``module:function``), where it came from, an example."""

    name: str
    factory: BackendFactory | str
    plugin: str
    description: str = ""
    example_config: Mapping[str, Any] = field(default_factory=dict)

    def load_factory(self) -> BackendFactory:
        """Import the factory if it was given by name.

        Raises:
            PluginError: the module or function cannot be imported.
        """
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except Exception as exc:
            raise PluginError(
                f"backend {self.name!r} (plugin {self.plugin!r}): cannot import {self.factory!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return cast(BackendFactory, fn)


class PluginManager:
    """Discovers plugins through entry points and keeps what they register.

    Args:
        entry_points: The entry points to load; default: those of the group ``labelloop.plugins``
            in the installed distributions (read on first use).
    """

    def __init__(self, entry_points: Iterable[EntryPoint] | None = None) -> None:
        self._entry_points = None if entry_points is None else list(entry_points)
        self._loaded = False
        self._backends: dict[str, BackendSpec] = {}
        self.broken: dict[str, str] = {}
        self.plugins: list[str] = []

    # ------------------------------------------------------------------ loading
    def load(self) -> PluginManager:
        """Load every plugin once (idempotent); return self."""
        if self._loaded:
            return self
        self._loaded = True
        if self._entry_points is None:
            from importlib.metadata import entry_points

            self._entry_points = list(entry_points(group=GROUP))
        for ep in sorted(self._entry_points, key=lambda e: e.name):
            try:
                plugin = ep.load()
            except Exception as exc:
                self.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                continue
            self._apply(ep.name, plugin)
        return self

    def register_module(self, name: str, **hooks: Callable[..., Any]) -> None:
        """Register an in-process plugin from hook functions (tests, notebooks, embedding apps)."""
        self.load()
        self._apply(name, SimpleNamespace(**hooks))

    def _apply(self, plugin_name: str, plugin: object) -> None:
        for hook in HOOKS:
            fn = getattr(plugin, hook, None)
            if fn is None:
                continue

            def register(
                name: str,
                factory: BackendFactory | str,
                *,
                description: str = "",
                example_config: dict[str, Any] | None = None,
            ) -> None:
                if name in self._backends:
                    raise PluginError(
                        f"plugin {plugin_name!r} registers backend {name!r}, "
                        f"already registered by {self._backends[name].plugin!r}"
                    )
                self._backends[name] = BackendSpec(name, factory, plugin_name, description, example_config or {})

            try:
                fn(register)
            except Exception as exc:
                self.broken[plugin_name] = f"{hook} failed: {type(exc).__name__}: {exc}"
                continue
        self.plugins.append(plugin_name)

    # ------------------------------------------------------------------ lookups
    def backend_names(self) -> list[str]:
        """The registered backend names, sorted."""
        return sorted(self.load()._backends)

    def backend_specs(self) -> list[BackendSpec]:
        """The registered backends, sorted by name."""
        self.load()
        return [self._backends[n] for n in sorted(self._backends)]

    def backend_spec(self, name: str) -> BackendSpec:
        """Return a backend's registration.

        Raises:
            PluginError: no such backend; the message lists the available (and broken) plugins.
        """
        self.load()
        spec = self._backends.get(name)
        if spec is None:
            available = ", ".join(sorted(self._backends)) or "none"
            broken = "".join(f"; broken plugin {k!r}: {v}" for k, v in sorted(self.broken.items()))
            raise PluginError(f"no backend {name!r}; available: {available}{broken}")
        return spec

    def create_backend(self, name: str, config: Mapping[str, Any] | None = None) -> Backend:
        """Build a backend from its config (its ``setup`` is the engine's job).

        Raises:
            PluginError: unknown backend, or the factory returned something that is not a Backend.
            LabelloopError: the backend refused its config (e.g. ``InvalidSchema``).
        """
        spec = self.backend_spec(name)
        factory = spec.load_factory()
        try:
            backend = factory(dict(config or {}))
        except LabelloopError:
            raise
        except Exception as exc:
            raise PluginError(f"backend {name!r}: its factory failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(backend, Backend):
            raise PluginError(f"backend {name!r}: the factory returned {type(backend).__name__}, not a Backend")
        if backend.name != name:
            raise PluginError(f"backend registered as {name!r} calls itself {backend.name!r}")
        return backend
