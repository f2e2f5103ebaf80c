"""The plan's YAML is what PyYAML's `safe_dump_all` writes, though most documents go through libyaml's emitter."""

from types import SimpleNamespace

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tooling.plan import render_kubernetes_yaml

OPTIONS = {"sort_keys": False, "default_flow_style": False, "width": 120}
# Keys and values as the objects hold them: names, labels, flags, long lines, YAML-significant characters.
text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=160) | st.sampled_from(
    ["", "yes", "null", "0123", "1e3", "- item", "key: value", "#comment", "  lead", "trail  ", "a\nb", "é", "\t"]
)
scalars = text | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4))
documents = st.lists(st.dictionaries(text, values, min_size=1, max_size=5), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_the_rendered_yaml_is_byte_identical_to_pyyaml(objects):
    plan = SimpleNamespace(kubernetes_objects=lambda: objects)
    assert render_kubernetes_yaml(plan) == yaml.safe_dump_all(objects, **OPTIONS)
