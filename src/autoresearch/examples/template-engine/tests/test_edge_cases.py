"""Nasty inputs: stray braces, unclosed markup at the very end, deep nesting, big inputs."""

import pytest

import liquid_lite
from liquid_lite import TemplateSyntaxError


@pytest.mark.parametrize("source", [
    "{", "}", "a{", "{a", "a{b", "a{ {", "{ {", "}}", "%}", "a}}b", "a%}b", "{}", "{ }", "{ %",
    "{-", "{{}", "x{", "x {", "{\n", "a{\n", "}{", "{%}", "{ {{ 'x' }}", "{{ 'x' }}{", "{{ 'x' }}}",
    "{x}{y}{z}", "{" * 50, "a{" * 20, "css { color: red; }", "{{ 'a' }}{ {% if true %}{{% endif %}",
])
def test_stray_braces_are_text_or_error_never_a_hang(source):
    try:
        output = liquid_lite.render(source)
    except TemplateSyntaxError:
        return
    assert output.count("{") <= source.count("{")


@pytest.mark.parametrize("source, expected", [
    ("a{", "a{"),
    ("{", "{"),
    ("a{b", "a{b"),
    ("}}", "}}"),
    ("%}", "%}"),
    ("x{{ 'y' }}{", "xy{"),
    ("{{ 'y' }}}", "y}"),
    ("{x}", "{x}"),
    ("{ {{ 1 }} }", "{ 1 }"),
    ("css { color: red; }", "css { color: red; }"),
    ("{{ 'a' }}{ {% if true %}{ {% endif %}", "a{ { "),
])
def test_stray_braces_render_as_text(source, expected):
    assert liquid_lite.render(source) == expected


@pytest.mark.parametrize("source", ["{{", "a{{", "{%", "a{%", "x\n{%", "{{ x", "{% if", "{{-", "{%-",
                                    "{{ x }", "{% if x %", "{% if x %}{{"])
def test_unclosed_markup_at_end_is_a_syntax_error(source):
    with pytest.raises(TemplateSyntaxError):
        liquid_lite.parse(source)


def test_empty_template():
    assert liquid_lite.render("") == ""
    assert liquid_lite.parse("").render(anything=1) == ""


def test_whitespace_only_template():
    assert liquid_lite.render(" \n\t ") == " \n\t "


def test_unicode_text_and_values():
    source = "héllo {{ name | upcase }} ✓ {{ emoji | size }} {{ name | truncate: 4 }}"
    assert liquid_lite.render(source, name="zoë", emoji="🙂🙂") == "héllo ZOË ✓ 2 zoë"


def test_unicode_in_string_literals_and_keys():
    assert liquid_lite.render("{{ d['ключ'] | append: ' – ok' }}", d={"ключ": "значение"}) == "значение – ok"


def test_line_numbers_count_unicode_lines():
    with pytest.raises(TemplateSyntaxError) as caught:
        liquid_lite.parse("ä\nö\nü {{ x")
    assert caught.value.line == 3


def test_deep_nesting_within_limit():
    depth = 100
    source = "{% if true %}" * depth + "deep" + "{% endif %}" * depth
    assert liquid_lite.render(source) == "deep"


def test_deep_nested_loops():
    depth = 30
    source = "{% for x in (1..1) %}" * depth + "{{ x }}" + "{% endfor %}" * depth
    assert liquid_lite.render(source) == "1"


def test_nesting_too_deep_is_an_error_not_a_crash():
    depth = 150
    source = "{% if true %}" * depth + "{% endif %}" * depth
    with pytest.raises(TemplateSyntaxError, match="nesting too deep"):
        liquid_lite.parse(source)


def test_huge_loop():
    output = liquid_lite.render("{% for i in (1..20000) %}{{ i }},{% endfor %}")
    assert output.count(",") == 20000
    assert output.endswith("19999,20000,")


def test_huge_text_without_markup():
    source = "lorem ipsum { } " * 20000
    assert liquid_lite.render(source) == source


def test_many_tags():
    source = "{{ 'x' }}{% if true %}y{% endif %}\n" * 3000
    assert liquid_lite.render(source) == "xy\n" * 3000


def test_many_lines_report_the_right_line():
    source = "text\n" * 5000 + "{% for x in y %}"
    with pytest.raises(TemplateSyntaxError) as caught:
        liquid_lite.parse(source)
    assert caught.value.line == 5001


def test_long_filter_chain():
    source = "{{ 1" + " | plus: 1" * 500 + " }}"
    assert liquid_lite.render(source) == "501"


def test_markup_delimiters_inside_strings():
    assert liquid_lite.render("{{ 'a | b' | append: ', c: d' }}") == "a | b, c: d"
    assert liquid_lite.render("{{ '%}' }}") == "%}"
