"""Output tags: literals, variable lookup and rendering of values."""

import pytest

import liquid_lite


@pytest.mark.parametrize("source, expected", [
    ("", ""),
    ("plain text", "plain text"),
    ("{{ 'single' }}", "single"),
    ('{{ "double" }}', "double"),
    ("{{ 42 }}", "42"),
    ("{{ -7 }}", "-7"),
    ("{{ 2.5 }}", "2.5"),
    ("{{ true }}", "true"),
    ("{{ false }}", "false"),
    ("{{ nil }}", ""),
    ("{{ empty }}", ""),
    ("{{ (1..3) }}", "1..3"),
    ("{{ missing }}", ""),
    ("{{ missing.deeper[0].name }}", ""),
])
def test_literals_and_missing(render, source, expected):
    assert render(source) == expected


DATA = {
    "user": {"name": "Ada", "tags": ["math", "poetry"], "address": {"city": "London"},
             "odd-key": "dash", "scores": {"a b": 1}},
    "items": [{"title": "first"}, {"title": "second"}, {"title": "third"}],
    "key": "name",
    "n": 1,
}


@pytest.mark.parametrize("source, expected", [
    ("{{ user.name }}", "Ada"),
    ("{{ user.address.city }}", "London"),
    ("{{ user['name'] }}", "Ada"),
    ('{{ user["name"] }}', "Ada"),
    ("{{ user[key] }}", "Ada"),
    ("{{ user.tags[0] }}", "math"),
    ("{{ user.tags[-1] }}", "poetry"),
    ("{{ user.tags[5] }}", ""),
    ("{{ items[n].title }}", "second"),
    ("{{ items.first.title }}", "first"),
    ("{{ items.last.title }}", "third"),
    ("{{ items.size }}", "3"),
    ("{{ user.name.size }}", "3"),
    ("{{ user.odd-key }}", "dash"),
    ('{{ user.scores["a b"] }}', "1"),
    ("{{ user.tags }}", "mathpoetry"),
    ("{{ user.missing.size }}", ""),
    ("{{user.name}}", "Ada"),
    ("{{   user.name   }}", "Ada"),
])
def test_variable_lookup(source, expected):
    assert liquid_lite.render(source, DATA) == expected


def test_dict_size_and_explicit_size_key():
    assert liquid_lite.render("{{ d.size }}", {"d": {"a": 1, "b": 2}}) == "2"
    assert liquid_lite.render("{{ d.size }}", {"d": {"size": "big"}}) == "big"


def test_keyword_arguments_and_mapping_merge():
    template = liquid_lite.Template("{{ a }}-{{ b }}")
    assert template.render({"a": 1, "b": 2}, b=3) == "1-3"


def test_template_renders_repeatedly_with_different_data():
    template = liquid_lite.parse("Hello {{ name }}!")
    assert [template.render(name=n) for n in ("a", "b", "c")] == ["Hello a!", "Hello b!", "Hello c!"]


def test_template_source_is_kept():
    assert liquid_lite.Template("x{{ y }}").source == "x{{ y }}"


def test_render_does_not_mutate_variables():
    variables = {"x": 1}
    liquid_lite.render("{% assign x = 2 %}{{ x }}", variables)
    assert variables == {"x": 1}


def test_objects_attributes_are_not_exposed():
    class Secret:
        password = "hunter2"
    assert liquid_lite.render("{{ s.password }}", {"s": Secret()}) == ""
