"""The search syntax e-discovery users know, parsed into a small AST and translated to ES DSL.

Grammar, loosest binding first (operators are case-insensitive)::

    query      := or_expr
    or_expr    := and_expr ( "OR" and_expr )*
    and_expr   := not_expr ( ["AND"] not_expr )*        bare adjacency means AND
    not_expr   := "NOT" not_expr | prox_expr
    prox_expr  := primary ( ("w/N" | "pre/N") primary )*  left-associative
    primary    := "(" or_expr ")" | field ":" value | phrase | word
    value      := "(" or_expr ")" | phrase | word | range | comparison
    phrase     := '"' text '"' [ "~" slop ]
    word       := plain | wildcard (* ?) | fuzzy (word~ or word~N, N <= 2) | "*"
    range      := ( "[" | "{" ) low "TO" high ( "]" | "}" )      "*" leaves an end open
    comparison := (">" | ">=" | "<" | "<=") value          date and number fields only

`a w/N b` matches when a and b are at most N positions apart in either order (N-1 words
between them; w/1 is adjacency); `a pre/N b` also needs a before b. Proximity operands are
words, phrases, wildcards, fuzzy words, OR groups of those and nested proximities, all in one
text field. A backslash escapes the next character; anything else can be put in quotes.

Dates (`date:2002`, `date:2002-03`, `date:[2002-01-01 TO 2002-12-31]`) cover whole periods:
the bounds are computed here because Elasticsearch only fills in missing time-of-day parts.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime
from typing import Any, Callable, Mapping, Sequence

from pipeline.errors import QuerySyntaxError

TEXT, KEYWORD, DATE, BOOLEAN = "text", "keyword", "date", "boolean"
NUMERIC = frozenset({"integer", "long", "double", "float", "short", "byte"})
MAX_FUZZINESS = 2  # Elasticsearch's own limit for edit distance.
DEFAULT_FUZZINESS = 2  # `word~` without a number, as in Lucene.


class QueryParseError(QuerySyntaxError):
    """A query that cannot be parsed, with the position of the problem (0-based offset)."""

    def __init__(self, query: str, position: int, reason: str):
        self.query, self.position, self.reason = query, position, reason
        super().__init__(self._message())

    def _message(self) -> str:
        shown = re.sub(r"\s", " ", self.query)
        return (f"cannot parse the query at column {self.position + 1}: {self.reason}\n"
                f"  {shown}\n  {' ' * self.position}^")


# --- the AST ----------------------------------------------------------------------------------
# `field` is None for the default fields; positions are for errors and are ignored by ==.

@dataclass(frozen=True)
class Term:
    text: str
    field: str | None = None
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Phrase:
    text: str
    field: str | None = None
    slop: int = 0
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Wildcard:
    pattern: str  # Lucene wildcard syntax: escapes kept, * and ? active.
    field: str | None = None
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Fuzzy:
    text: str
    field: str | None = None
    distance: int = DEFAULT_FUZZINESS
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Range:
    field: str
    lower: str | None = None  # None: open
    upper: str | None = None
    include_lower: bool = True
    include_upper: bool = True
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Exists:
    field: str
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class MatchAll:
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    child: "Node"
    position: int = dataclass_field(default=0, compare=False)


@dataclass(frozen=True)
class Proximity:
    left: "Node"
    right: "Node"
    distance: int
    ordered: bool
    position: int = dataclass_field(default=0, compare=False)


Node = Term | Phrase | Wildcard | Fuzzy | Range | Exists | MatchAll | And | Or | Not | Proximity
PROXIMITY_OPERANDS = (Term, Phrase, Wildcard, Fuzzy, Or, Proximity)


# --- the fields a query can name --------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def item_fields() -> dict[str, str]:
    """Searchable field -> ES type, from the committed item mapping (subfields included)."""
    from pipeline.index.indices import load_mapping

    return fields_from_mapping(load_mapping()["mappings"]["properties"])


def fields_from_mapping(properties: Mapping[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, spec in properties.items():
        if spec.get("index", True) is False:
            continue  # kept in _source only: searching it would silently find nothing
        fields[name] = spec["type"]
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{name}.{sub}"] = sub_spec["type"]
    return fields


# --- tokens -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT PROX FIELD RANGE EOF
    text: str
    position: int
    value: Any = None


OPERATORS = {"and": "AND", "or": "OR", "not": "NOT"}
PROXIMITY_RE = re.compile(r"^(w|pre)/(\d+)$", re.IGNORECASE)
INCOMPLETE_PROXIMITY_RE = re.compile(r"^(w|pre)/$", re.IGNORECASE)
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:")
WORD_STOP = set('()"') | {" ", "\t", "\n", "\r"}


class Lexer:
    def __init__(self, query: str):
        self.query = query
        self.i = 0
        self.tokens: list[Token] = []

    def error(self, position: int, reason: str) -> QueryParseError:
        return QueryParseError(self.query, position, reason)

    def tokenize(self) -> list[Token]:
        while True:
            self._skip_space()
            if self.i >= len(self.query):
                self.tokens.append(Token("EOF", "", len(self.query)))
                return self.tokens
            self.tokens.append(self._next())

    def _skip_space(self) -> None:
        while self.i < len(self.query) and self.query[self.i].isspace():
            self.i += 1

    def _next(self) -> Token:
        char, start = self.query[self.i], self.i
        if char in "()":
            self.i += 1
            return Token("LPAREN" if char == "(" else "RPAREN", char, start)
        if char == '"':
            return self._phrase()
        match = FIELD_RE.match(self.query, self.i)
        if match:
            self.i = match.end()
            if self.i < len(self.query) and self.query[self.i] in "[{":
                self.tokens.append(Token("FIELD", match.group()[:-1], start))
                return self._range()
            return Token("FIELD", match.group()[:-1], start)
        return self._word()

    def _phrase(self) -> Token:
        start = self.i
        self.i += 1
        text: list[str] = []
        while self.i < len(self.query) and self.query[self.i] != '"':
            if self.query[self.i] == "\\" and self.i + 1 < len(self.query):
                self.i += 1
            text.append(self.query[self.i])
            self.i += 1
        if self.i >= len(self.query):
            raise self.error(start, 'this quote is never closed: add the closing "')
        self.i += 1
        return Token("PHRASE", "".join(text), start, self._phrase_slop())

    def _phrase_slop(self) -> int:
        if self.i >= len(self.query) or self.query[self.i] != "~":
            return 0
        match = re.compile(r"~(\d+)").match(self.query, self.i)
        if not match:
            raise self.error(self.i, 'a phrase takes a number of words after ~, e.g. "a b"~2')
        self.i = match.end()
        return int(match.group(1))

    def _range(self) -> Token:
        start, opening = self.i, self.query[self.i]
        end = self._find_range_end(start)
        body = self.query[start + 1:end].split()
        if len(body) != 3 or body[1].upper() != "TO":
            raise self.error(start, "a range is written [low TO high] (or {low TO high} to "
                                    "leave out the ends; * for an open end)")
        self.i = end + 1
        lower, upper = (None if v == "*" else v for v in (body[0], body[2]))
        return Token("RANGE", self.query[start:end + 1], start,
                     (lower, upper, opening == "[", self.query[end] == "]"))

    def _find_range_end(self, start: int) -> int:
        for index in range(start + 1, len(self.query)):
            if self.query[index] in "]}":
                return index
        raise self.error(start, "this range is never closed: add ] (inclusive) or } (exclusive)")

    def _word(self) -> Token:
        start = self.i
        while self.i < len(self.query) and self.query[self.i] not in WORD_STOP:
            if self.query[self.i] == "\\":
                if self.i + 1 >= len(self.query):
                    raise self.error(self.i, "a backslash at the end escapes nothing")
                self.i += 1
            self.i += 1
        raw = self.query[start:self.i]
        return self._classify_word(raw, start)

    def _classify_word(self, raw: str, start: int) -> Token:
        if raw.lower() in OPERATORS:
            return Token(OPERATORS[raw.lower()], raw, start)
        match = PROXIMITY_RE.match(raw)
        if match:
            distance = int(match.group(2))
            if distance < 1:
                raise self.error(start, f"{raw}: the distance must be at least 1 word")
            return Token("PROX", raw, start, (distance, match.group(1).lower() == "pre"))
        if INCOMPLETE_PROXIMITY_RE.match(raw):
            raise self.error(start, f"{raw} needs a number of words, e.g. {raw}5 (to search "
                                    f"for the text itself, put it in quotes)")
        return Token("WORD", raw, start)


# --- words ------------------------------------------------------------------------------------

def unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


def has_unescaped(raw: str, chars: str) -> bool:
    return any(ch in chars for ch in re.sub(r"\\.", "", raw))


FUZZY_RE = re.compile(r"^(?P<word>.*?[^\\])~(?P<distance>\d*)$")
COMPARISON_RE = re.compile(r"^(?P<op>>=|<=|>|<)(?P<value>.+)$")
DATE_RE = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?$")


def period(value: str) -> tuple[str, str]:
    """A date value's [start, next) pair; a full time stands for that instant alone.

    Raises ValueError for anything that is not YYYY, YYYY-MM, YYYY-MM-DD or ISO 8601.
    """
    match = DATE_RE.match(value)
    if not match:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value, value
    year, month, day = (int(match[k]) if match[k] else None for k in ("year", "month", "day"))
    if month is None:
        return f"{year:04d}-01-01", f"{year + 1:04d}-01-01"
    if day is None:
        date(year, month, 1)
        following = (year + 1, 1) if month == 12 else (year, month + 1)
        return f"{year:04d}-{month:02d}-01", f"{following[0]:04d}-{following[1]:02d}-01"
    start = date(year, month, day)
    following_day = date.fromordinal(start.toordinal() + 1)
    return start.isoformat(), following_day.isoformat()


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# --- the parser -------------------------------------------------------------------------------

class Parser:
    def __init__(self, query: str, fields: Mapping[str, str]):
        self.query = query
        self.fields = fields
        self.tokens = Lexer(query).tokenize()
        self.index = 0

    # token helpers
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, position: int, reason: str) -> QueryParseError:
        return QueryParseError(self.query, position, reason)

    # grammar
    def parse(self) -> Node:
        if self.peek().kind == "EOF":
            raise self.error(0, "the query is empty")
        node = self.parse_or(None)
        token = self.peek()
        if token.kind == "RPAREN":
            raise self.error(token.position, "this ')' has no matching '('")
        if token.kind != "EOF":
            raise self.error(token.position, f"unexpected {token.text!r}")
        return node

    def parse_or(self, field: str | None) -> Node:
        children = [self.parse_and(field)]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.parse_and(field))
        return children[0] if len(children) == 1 else Or(_flatten(Or, children),
                                                         children[0].position)

    def parse_and(self, field: str | None) -> Node:
        children = [self.parse_not(field)]
        while True:
            token = self.peek()
            if token.kind == "AND":
                self.take()
            elif token.kind not in ("WORD", "PHRASE", "LPAREN", "FIELD", "NOT"):
                break
            children.append(self.parse_not(field))
        return children[0] if len(children) == 1 else And(_flatten(And, children),
                                                          children[0].position)

    def parse_not(self, field: str | None) -> Node:
        token = self.peek()
        if token.kind == "NOT":
            self.take()
            return Not(self.parse_not(field), token.position)
        return self.parse_proximity(field)

    def parse_proximity(self, field: str | None) -> Node:
        node = self.parse_primary(field)
        while self.peek().kind == "PROX":
            operator = self.take()
            if self.peek().kind == "NOT":
                raise self.error(self.peek().position,
                                 f"NOT cannot be used inside a proximity search ({operator.text})")
            distance, ordered = operator.value
            node = Proximity(node, self.parse_primary(field), distance, ordered,
                             operator.position)
            self.check_proximity(node, operator)
        return node

    def parse_primary(self, field: str | None) -> Node:
        token = self.take()
        if token.kind == "LPAREN":
            return self.parse_group(token, field)
        if token.kind == "FIELD":
            return self.parse_field_value(token)
        if token.kind == "PHRASE":
            return self.phrase(token, field)
        if token.kind == "WORD":
            return self.word(token, field)
        raise self.unexpected(token)

    def unexpected(self, token: Token) -> QueryParseError:
        if token.kind == "EOF":
            return self.error(token.position, "the query ends where a search term was expected")
        if token.kind == "RPAREN":
            return self.error(token.position, "expected a search term before ')'")
        return self.error(token.position, f"{token.text} needs a search term before it")

    def parse_group(self, opening: Token, field: str | None) -> Node:
        if self.peek().kind == "RPAREN":
            raise self.error(self.peek().position, "empty parentheses")
        node = self.parse_or(field)
        if self.peek().kind != "RPAREN":
            raise self.error(self.peek().position,
                             f"expected ')' to close the '(' at column {opening.position + 1}")
        self.take()
        return node

    def parse_field_value(self, token: Token) -> Node:
        field = self.known_field(token)
        value = self.take()
        if value.kind == "LPAREN":
            return self.parse_group(value, field)
        if value.kind == "RANGE":
            return self.range(value, field)
        if value.kind == "PHRASE":
            return self.phrase(value, field)
        if value.kind == "WORD":
            return self.word(value, field)
        raise self.error(value.position, f"expected a value after '{token.text}:'")

    def known_field(self, token: Token) -> str:
        name = token.text
        if name in self.fields:
            return name
        if name.lower() in self.fields:  # Subject:bribe means subject:bribe
            return name.lower()
        close = difflib.get_close_matches(name, list(self.fields), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise self.error(token.position, f"unknown field '{name}'.{hint} (To search for text "
                                         f"containing ':', put it in quotes.)")

    def field_type(self, field: str | None) -> str:
        return TEXT if field is None else self.fields[field]

    # leaves
    def phrase(self, token: Token, field: str | None) -> Node:
        kind = self.field_type(field)
        if kind in NUMERIC or kind in (DATE, BOOLEAN):
            return self.exact_value(token.text, field, token.position)
        return Phrase(token.text, field, token.value, token.position)

    def word(self, token: Token, field: str | None) -> Node:
        raw, kind = token.text, self.field_type(field)
        if raw == "*":
            return MatchAll(token.position) if field is None else Exists(field, token.position)
        if kind in NUMERIC or kind == DATE:
            comparison = COMPARISON_RE.match(raw)
            if comparison:
                return self.comparison(comparison, field, token.position)
        fuzzy = FUZZY_RE.match(raw)
        if fuzzy:
            return self.fuzzy(fuzzy, kind, field, token.position)
        if has_unescaped(raw, "*?"):
            if kind not in (TEXT, KEYWORD):
                raise self.error(token.position,
                                 f"wildcards work on text and keyword fields, not on {kind} "
                                 f"field '{field}'")
            return Wildcard(raw, field, token.position)
        return self.exact_value(unescape(raw), field, token.position)

    def fuzzy(self, match: re.Match[str], kind: str, field: str | None, position: int) -> Node:
        if kind not in (TEXT, KEYWORD):
            raise self.error(position, f"~ (fuzzy) works on text and keyword fields, not on "
                                       f"{kind} field '{field}'")
        distance = int(match["distance"]) if match["distance"] else DEFAULT_FUZZINESS
        if distance > MAX_FUZZINESS:
            raise self.error(position + match.start("distance") - 1,
                             f"a fuzzy search allows at most {MAX_FUZZINESS} edits (~0, ~1, ~2)")
        return Fuzzy(unescape(match["word"]), field, distance, position)

    def exact_value(self, value: str, field: str | None, position: int) -> Node:
        kind = self.field_type(field)
        self.check_value(value, kind, field, position)
        if kind == DATE:  # a date stands for its whole period: a year, a month or a day
            return Range(field, value, value, True, True, position)
        return Term(value, field, position)

    def comparison(self, match: re.Match[str], field: str, position: int) -> Node:
        op, value = match["op"], match["value"]
        self.check_value(value, self.fields[field], field, position + len(op))
        if op.startswith(">"):
            return Range(field, value, None, op == ">=", True, position)
        return Range(field, None, value, True, op == "<=", position)

    def range(self, token: Token, field: str) -> Node:
        lower, upper, include_lower, include_upper = token.value
        kind = self.fields[field]
        if kind == TEXT or kind == BOOLEAN:
            raise self.error(token.position, f"ranges work on date, number and keyword fields; "
                                             f"'{field}' is a {kind} field")
        for value in (lower, upper):
            if value is not None:
                self.check_value(value, kind, field, token.position)
        return Range(field, lower, upper, include_lower, include_upper, token.position)

    def check_value(self, value: str, kind: str, field: str | None, position: int) -> None:
        if kind == DATE:
            try:
                period(value)
            except ValueError:
                raise self.error(position, f"'{value}' is not a date for '{field}': write "
                                           f"YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 time")
        elif kind in NUMERIC and not is_number(value):
            raise self.error(position, f"'{value}' is not a number for '{field}'")
        elif kind == BOOLEAN and value.lower() not in ("true", "false"):
            raise self.error(position, f"'{field}' is true or false, not '{value}'")

    # proximity rules
    def check_proximity(self, node: Proximity, operator: Token) -> None:
        for operand in (node.left, node.right):
            self.check_operand(operand, operator)
        fields = _leaf_fields(node)
        if len(fields) > 1:
            raise self.error(operator.position,
                             f"both sides of {operator.text} must search the same field: "
                             f"write field:(a {operator.text} b)")
        field = fields.pop() if fields else None
        if field is not None and self.fields[field] != TEXT:
            raise self.error(operator.position,
                             f"{operator.text} needs a text field; '{field}' is a "
                             f"{self.fields[field]} field")

    def check_operand(self, operand: Node, operator: Token) -> None:
        if not isinstance(operand, PROXIMITY_OPERANDS):
            what = {And: "AND", Not: "NOT", Range: "a date or range", Exists: "field:*",
                    MatchAll: "*"}.get(type(operand), type(operand).__name__)
            raise self.error(operand.position,
                             f"{what} cannot be an operand of {operator.text}: use words, "
                             f"phrases, wildcards, fuzzy words, OR groups and nested w/N or "
                             f"pre/N")
        if isinstance(operand, Or):
            for child in operand.children:
                self.check_operand(child, operator)


def _flatten(kind: type, children: list[Node]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))  # type: ignore
    return tuple(flat)


def _leaf_fields(node: Node) -> set[str | None]:
    """The fields a proximity's operands search; None stands for the default fields."""
    if isinstance(node, Proximity):
        return _leaf_fields(node.left) | _leaf_fields(node.right)
    if isinstance(node, Or):
        return set().union(*(_leaf_fields(child) for child in node.children))
    return {getattr(node, "field", None)}


def parse(text: str, fields: Mapping[str, str] | None = None) -> Node:
    """Parse a query; raises QueryParseError (a QuerySyntaxError) pointing at the problem."""
    return Parser(text, item_fields() if fields is None else fields).parse()


# --- back to text (for messages and tests) ----------------------------------------------------

def to_text(node: Node) -> str:
    """A fully parenthesised rendering of the AST, e.g. '(a AND (b OR c))'."""
    def prefix(name: str | None) -> str:
        return f"{name}:" if name else ""

    if isinstance(node, Term):
        return prefix(node.field) + node.text
    if isinstance(node, Phrase):
        return prefix(node.field) + f'"{node.text}"' + (f"~{node.slop}" if node.slop else "")
    if isinstance(node, Wildcard):
        return prefix(node.field) + node.pattern
    if isinstance(node, Fuzzy):
        return prefix(node.field) + f"{node.text}~{node.distance}"
    if isinstance(node, Range):
        low, high = node.lower or "*", node.upper or "*"
        return (f"{node.field}:{'[' if node.include_lower else '{'}{low} TO {high}"
                f"{']' if node.include_upper else '}'}")
    if isinstance(node, Exists):
        return f"{node.field}:*"
    if isinstance(node, MatchAll):
        return "*"
    if isinstance(node, Not):
        return f"NOT {to_text(node.child)}"
    if isinstance(node, Proximity):
        operator = f"{'pre' if node.ordered else 'w'}/{node.distance}"
        return f"({to_text(node.left)} {operator} {to_text(node.right)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(to_text(child) for child in node.children) + ")"


# --- translation to Elasticsearch -------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    boost: float | None


def targets(default_fields: Sequence[str]) -> list[Target]:
    """'subject^3' -> Target('subject', 3.0)."""
    found = []
    for spec in default_fields:
        name, _, boost = spec.partition("^")
        found.append(Target(name, float(boost) if boost else None))
    return found


def _boosted(query: dict[str, Any], boost: float | None) -> dict[str, Any]:
    return {**query, "boost": boost} if boost else query


class Translator:
    def __init__(self, default_fields: Sequence[str], fields: Mapping[str, str]):
        self.defaults = targets(default_fields)
        self.fields = fields

    def kind(self, name: str) -> str:
        return self.fields.get(name.partition("^")[0], TEXT)

    def translate(self, node: Node) -> dict[str, Any]:
        handler: Callable[[Any], dict[str, Any]] = getattr(self, f"_{type(node).__name__}")
        return handler(node)

    # booleans
    def _And(self, node: And) -> dict[str, Any]:
        must = [self.translate(c) for c in node.children if not isinstance(c, Not)]
        must_not = [self.translate(c.child) for c in node.children if isinstance(c, Not)]
        return {"bool": {"must": must or [{"match_all": {}}], "must_not": must_not}}

    def _Or(self, node: Or) -> dict[str, Any]:
        return {"bool": {"should": [self.translate(c) for c in node.children],
                         "minimum_should_match": 1}}

    def _Not(self, node: Not) -> dict[str, Any]:
        return {"bool": {"must": [{"match_all": {}}], "must_not": [self.translate(node.child)]}}

    def _MatchAll(self, node: MatchAll) -> dict[str, Any]:
        return {"match_all": {}}

    def _Exists(self, node: Exists) -> dict[str, Any]:
        return {"exists": {"field": node.field}}

    # leaves
    def _Term(self, node: Term) -> dict[str, Any]:
        if node.field is None:
            return {"multi_match": {"query": node.text, "fields": self.default_specs(),
                                    "operator": "and", "lenient": True}}
        if self.kind(node.field) == TEXT:
            return {"match": {node.field: {"query": node.text, "operator": "and"}}}
        if self.kind(node.field) == KEYWORD:
            return {"term": {node.field: {"value": node.text, "case_insensitive": True}}}
        value: Any = node.text.lower() == "true" if self.kind(node.field) == BOOLEAN else node.text
        return {"term": {node.field: {"value": value}}}

    def _Phrase(self, node: Phrase) -> dict[str, Any]:
        if node.field is None:
            return {"multi_match": {"query": node.text, "fields": self.default_specs(),
                                    "type": "phrase", "slop": node.slop, "lenient": True}}
        if self.kind(node.field) == KEYWORD:
            return {"term": {node.field: {"value": node.text, "case_insensitive": True}}}
        return {"match_phrase": {node.field: {"query": node.text, "slop": node.slop}}}

    def _Wildcard(self, node: Wildcard) -> dict[str, Any]:
        wanted = [Target(node.field, None)] if node.field else self.defaults
        queries = [{"wildcard": {t.name: _boosted({"value": node.pattern,
                                                  "case_insensitive": True}, t.boost)}}
                   for t in wanted]
        return queries[0] if len(queries) == 1 else {
            "bool": {"should": queries, "minimum_should_match": 1}}

    def _Fuzzy(self, node: Fuzzy) -> dict[str, Any]:
        if node.field is None:
            return {"multi_match": {"query": node.text, "fields": self.default_specs(),
                                    "operator": "and", "fuzziness": node.distance,
                                    "lenient": True}}
        if self.kind(node.field) == KEYWORD:
            return {"fuzzy": {node.field: {"value": node.text, "fuzziness": node.distance}}}
        return {"match": {node.field: {"query": node.text, "operator": "and",
                                       "fuzziness": node.distance}}}

    def _Range(self, node: Range) -> dict[str, Any]:
        if self.kind(node.field) == DATE:
            return {"range": {node.field: {**date_bounds(node),
                                           "format": "strict_date_optional_time"}}}
        bounds: dict[str, str] = {}
        if node.lower is not None:
            bounds["gte" if node.include_lower else "gt"] = node.lower
        if node.upper is not None:
            bounds["lte" if node.include_upper else "lt"] = node.upper
        return {"range": {node.field: bounds}}

    def default_specs(self) -> list[str]:
        return [t.name + (f"^{t.boost:g}" if t.boost else "") for t in self.defaults]

    # proximity: one intervals query per text field, OR-ed
    def _Proximity(self, node: Proximity) -> dict[str, Any]:
        field = _leaf_fields(node).pop()  # the parser allows one field per proximity
        wanted = [Target(field, None)] if field else \
            [t for t in self.defaults if self.kind(t.name) == TEXT]
        if not wanted:
            raise QuerySyntaxError("a proximity search needs a text field, and none of the "
                                   "default fields is one")
        rule = interval_rule(node)
        queries = [{"intervals": {t.name: _boosted(rule, t.boost)}} for t in wanted]
        return queries[0] if len(queries) == 1 else {
            "bool": {"should": queries, "minimum_should_match": 1}}


def interval_rule(node: Node) -> dict[str, Any]:
    """The intervals rule for a proximity operand (already checked by the parser)."""
    if isinstance(node, Proximity):
        return {"all_of": {"intervals": [interval_rule(node.left), interval_rule(node.right)],
                           "max_gaps": node.distance - 1, "ordered": node.ordered}}
    if isinstance(node, Or):
        return {"any_of": {"intervals": [interval_rule(child) for child in node.children]}}
    if isinstance(node, Fuzzy):
        return {"fuzzy": {"term": node.text, "fuzziness": node.distance}}
    if isinstance(node, Wildcard):
        stem = node.pattern[:-1]
        if node.pattern.endswith("*") and not has_unescaped(stem, "*?") and stem:
            return {"prefix": {"prefix": unescape(stem)}}
        return {"wildcard": {"pattern": node.pattern}}
    text = node.text  # Term or Phrase: a word that analyses to several tokens is a phrase too
    slop = node.slop if isinstance(node, Phrase) else 0
    return {"match": {"query": text, "max_gaps": slop, "ordered": True}}


def date_bounds(node: Range) -> dict[str, str]:
    """Whole periods: [2002 TO 2002] is every instant of 2002; {2002 TO *] starts in 2003."""
    bounds: dict[str, str] = {}
    if node.lower is not None:
        start, following = period(node.lower)
        exact = start == following
        if node.include_lower:
            bounds["gte"] = start
        else:
            bounds["gt" if exact else "gte"] = following
    if node.upper is not None:
        start, following = period(node.upper)
        exact = start == following
        if node.include_upper:
            bounds["lte" if exact else "lt"] = following
        else:
            bounds["lt"] = start
    return bounds


def to_elasticsearch(node: Node, default_fields: Sequence[str],
                     fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ES query DSL for a parsed query. `default_fields` may carry boosts: 'subject^3'."""
    return Translator(default_fields, item_fields() if fields is None else fields).translate(node)


def compile_query(text: str, default_fields: Sequence[str]) -> dict[str, Any]:
    """parse + to_elasticsearch, the one call search and the reports make."""
    return to_elasticsearch(parse(text), default_fields)


__all__ = ["And", "Exists", "Fuzzy", "MatchAll", "Node", "Not", "Or", "Phrase", "Proximity",
           "QueryParseError", "Range", "Term", "Wildcard", "compile_query", "item_fields",
           "parse", "to_elasticsearch", "to_text"]
