"""Engines: processes that run a board and expose its console."""

from mpbench.engine.base import Determinism, Engine, EngineState, engine_class, register_engine

__all__ = ["Determinism", "Engine", "EngineState", "engine_class", "register_engine"]
