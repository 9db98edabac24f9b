"""Region graphs, transition graphs and graph-based searches (DESIGN §4, §6, §8)."""
from .orbits_graph import find_orbits_graph
from .regiongraph import Box, RegionGraph, RegionWalker, as_box, region_graph
from .transitions import TransitionGraph, transition_graph

__all__ = ["Box", "as_box", "RegionGraph", "RegionWalker", "region_graph", "TransitionGraph", "transition_graph",
           "find_orbits_graph"]
