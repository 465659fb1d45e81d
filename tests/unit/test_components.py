"""Connected components of a graph in numpy (one Spark task's work), without Spark, against a
plain union-find."""

import random

import numpy as np

from pipeline.transforms.threads import component_labels


def union_find(sources, targets):
    parent = {}

    def root(vertex):
        while parent.setdefault(vertex, vertex) != vertex:
            vertex = parent[vertex]
        return vertex

    for source, target in zip(sources, targets):
        parent[root(source)] = root(target)
    members = {}
    for vertex in list(parent):
        members.setdefault(root(vertex), []).append(vertex)
    return {vertex: min(group) for group in members.values() for vertex in group}


def labelled(sources, targets):
    vertices, labels = component_labels(np.array(sources, dtype=np.int64),
                                        np.array(targets, dtype=np.int64))
    assert list(vertices) == sorted(set(sources) | set(targets))
    return dict(zip(vertices.tolist(), labels.tolist()))


def test_random_graphs_with_long_chains_equal_union_find():
    rng = random.Random(5)
    for _ in range(20):
        vertices = [rng.randrange(-2 ** 63, 2 ** 63) for _ in range(400)]
        edges = [(rng.choice(vertices), rng.choice(vertices)) for _ in range(rng.randrange(300))]
        chain = rng.sample(vertices, 120)
        edges += list(zip(chain, chain[1:]))
        rng.shuffle(edges)
        sources, targets = zip(*edges)
        assert labelled(sources, targets) == union_find(sources, targets)


def test_a_chain_ordered_against_the_hooks_still_settles():
    chain = list(range(1000, 0, -1))
    assert set(labelled(chain[:-1], chain[1:]).values()) == {1}


def test_self_loops_repeats_and_no_edges():
    assert labelled([3, 3, 5, 7], [3, 5, 3, 7]) == {3: 3, 5: 3, 7: 7}
    assert labelled([], []) == {}
