"""Realistic demo data: report trees for the README's demo, the tests and the benchmarks."""

from bot_core.demo._generator import EXCHANGES, DemoTree, generate_demo_tree

__all__ = ["EXCHANGES", "DemoTree", "generate_demo_tree"]
