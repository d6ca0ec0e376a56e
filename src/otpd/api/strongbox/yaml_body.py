"""YAML request bodies, restricted to what a Strongbox body is: a small tree of plain values.

PyYAML's safe loader builds no Python objects (no `!!python/...`), but it still resolves
anchors and aliases, merge keys (`<<`) and complex keys (`? [a, b]`). None of them is needed
by any Strongbox body, and together they are a bomb: an alias of nested aliased lists used as
a mapping key is 400 bytes of text and billions of elements once anything walks it. So this
loader refuses them from the parser's events and the composed nodes, before anything is
constructed (docs/security.md):

- an anchor (`&a`) or an alias (`*a`) anywhere;
- a key that is not a plain scalar, and the merge key `<<`;
- nesting deeper than MAX_DEPTH;
- a key repeated in one mapping (compared on the composed key nodes: tag and scalar value).

The text is bounded by the body cap (max_body_bytes), so with no aliases the composed tree is
at most linear in it. Every refusal is InvalidInput; every other YAML problem is a YAMLError
(or a ValueError from a scalar such as a timestamp of month 13), which the caller maps to 400.
"""

from __future__ import annotations

from typing import Any

import yaml

from otpd.core.errors import InvalidInput

__all__ = ["MAX_DEPTH", "load_yaml"]

MAX_DEPTH = 32  # a TOTP object is one level; a JSON Patch list of objects two
_MERGE_TAG = "tag:yaml.org,2002:merge"
# libyaml's parser when PyYAML was built with it (the wheels are): the same safe constructor,
# about five times faster on a body at the cap than the pure-Python parser.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_events(text: str) -> None:
    """Anchors, aliases and depth, from the event stream: nothing is built yet."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise InvalidInput("body", "must not use YAML anchors or aliases")
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidInput("body", "is nested too deeply")
        elif isinstance(event, _CLOSE):
            depth -= 1


def _check_keys(loader: yaml.SafeLoader, root: yaml.Node) -> None:
    """Every mapping key a plain scalar (not `<<`), none repeated. The tree has no shared
    nodes (no aliases), so the walk visits each node once."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, Any]] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    raise InvalidInput("body", "must use plain values as keys")
                # The scalar as it will be constructed (so `1` and `01` are one key).
                identity = (key_node.tag, loader.construct_object(key_node))
                if identity in seen:
                    raise InvalidInput("body", "repeats a key")
                seen.add(identity)
                stack.append(value_node)


def load_yaml(text: str) -> Any:
    """One YAML document -> plain Python values; InvalidInput on any refusal."""
    _check_events(text)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_keys(loader, root)
        return loader.construct_document(root)
    finally:
        loader.dispose()
