"""Tier 2: the Spark forms of two threading building blocks against plain-Python truths:
thread subjects against thread_subject() itself, connected components against a union-find."""

from __future__ import annotations

import random

import pytest

from pipeline.transforms import threads
from pipeline.transforms.threads import connected_components, thread_subject, with_thread_subject

pytestmark = pytest.mark.spark

TRICKY_SUBJECTS = [
    None, "", "Re:", "  Re :  ", "Budget", "RE[2]: Budget", "Re: Fwd: AW: Budget",
    "FW (3) : WG:tr:Budget", "re re: Budget", "Fwd:fwd", "Regarding: Budget",
    "Antw: \tMulti\r\nLine  ", "Re:\x1fRe:\x1cBudget", "a\x0bb\x0cc",
    "Cafe\u0301", "Caf\u00e9", "\u00a0Re:\u2003Stra\u00dfe", "\u0130stanbul", "\u017fv: Budget",
    "RE[\u0663]: Budget", "\u212aelvin", "Re:\u3000\u3000Budget\u2028", "Re:\u200bBudget",
]
# Pieces that random subjects are made of: prefixes in both cases, counters, every kind of
# whitespace str.split() knows (ASCII and not), and letters whose case folding is special.
PIECES = ["re", "RE", "Re", "fw", "FWD", "aw", "wg", "sv", "vs", "antw", "TR", ":", " : ", "[2]",
          "(12)", "[\u0663]", " ", "  ", "\t", "\r\n", "\x0b", "\x1c", "\x1f", "\xa0", "\u2003",
          "\u3000", "\u200b", "Budget", "plan", "x", "\u00df", "\u0130", "I", "\u017f",
          "\u212a", "e\u0301", "\u00e9", "\u03a3", "\ufb01"]


def random_subjects(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8))) for _ in range(count)]


def test_thread_subjects_in_spark_are_thread_subject(spark):
    subjects = TRICKY_SUBJECTS + random_subjects(random.Random(20251127), 3000)
    frame = spark.createDataFrame(list(enumerate(subjects)), "id int, subject string")
    found = {row.id: (row.thread_subject, row.subject_reply)
             for row in with_thread_subject(frame).collect()}
    assert len(found) == len(subjects)
    for number, subject in enumerate(subjects):
        assert found[number] == thread_subject(subject), repr(subject)


def reference_components(edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(vertex, smallest vertex of its component) by union-find."""
    parent: dict[str, str] = {}

    def root(vertex: str) -> str:
        while parent.setdefault(vertex, vertex) != vertex:
            vertex = parent[vertex]
        return vertex

    for src, dst in edges:
        parent[root(src)] = root(dst)
    members: dict[str, list[str]] = {}
    for vertex in list(parent):
        members.setdefault(root(vertex), []).append(vertex)
    return {(vertex, min(group)) for group in members.values() for vertex in group}


def random_edges(rng: random.Random) -> list[tuple[str, str]]:
    """Near-duplicate ids and thread node names, in scattered pairs, a long chain (so that
    labels need several rounds), a self-loop, repeated and reversed edges."""
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(300)]
    nodes = [f"{kind}:{rng.getrandbits(40):x}" for kind in ("mid", "conv", "subj", "item")
             for _ in range(50)]
    vertices = ids + nodes
    edges = [(rng.choice(vertices), rng.choice(vertices)) for _ in range(250)]
    chain = rng.sample(vertices, 60)
    edges += list(zip(chain, chain[1:]))
    edges += [(ids[0], ids[0]), edges[0], edges[1][::-1]]
    rng.shuffle(edges)
    return edges


def components_of(spark, edges, **options) -> set[tuple[str, str]]:
    frame = spark.createDataFrame(edges, "src string, dst string")
    return {(row.vertex, row.component)
            for row in connected_components(frame, **options).collect()}


def spy_on_string_fallback(monkeypatch) -> list[int]:
    calls = []
    string_components = threads._string_components

    def recorded(*args, **kwargs):
        calls.append(1)
        return string_components(*args, **kwargs)

    monkeypatch.setattr(threads, "_string_components", recorded)
    return calls


@pytest.mark.parametrize("local_edges", [threads.LOCAL_COMPONENT_EDGES, 0],
                         ids=["in one worker", "in rounds"])
def test_components_are_named_by_their_smallest_vertex(spark, monkeypatch, local_edges):
    edges = random_edges(random.Random(7))
    fallbacks = spy_on_string_fallback(monkeypatch)
    assert components_of(spark, edges, local_edges=local_edges) == reference_components(edges)
    assert fallbacks == []


def one_key_for_all(vertex):
    from pyspark.sql import functions as F

    return F.lit(1).cast("long")


def two_keys(vertex):
    from pyspark.sql import functions as F

    return F.xxhash64(vertex) % 2


@pytest.mark.parametrize("vertex_key", [one_key_for_all, two_keys])
def test_shared_keys_fall_back_to_string_labels(spark, monkeypatch, vertex_key):
    edges = random_edges(random.Random(11))
    fallbacks = spy_on_string_fallback(monkeypatch)
    assert components_of(spark, edges, vertex_key=vertex_key) == reference_components(edges)
    assert fallbacks == [1]


def test_a_null_vertex_takes_the_string_labels(spark, monkeypatch):
    edges = [("b", "a"), ("c", "b"), ("x", "y"), ("q", None)]
    fallbacks = spy_on_string_fallback(monkeypatch)
    found = components_of(spark, edges)
    assert fallbacks == [1]
    named = {pair for pair in found if pair[0] is not None}
    assert named == reference_components(edges[:3]) | {("q", "q")}

