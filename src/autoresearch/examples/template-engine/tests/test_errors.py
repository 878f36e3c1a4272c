"""Syntax errors are strict and carry the line number of the offending markup."""

import pytest

import liquid_lite
from liquid_lite import LiquidError, TemplateSyntaxError


@pytest.mark.parametrize("source, message, line", [
    ("{{ x", "unclosed output '{{'", 1),
    ("a\nb\n{{ x", "unclosed output '{{'", 3),
    ("line one\n{% if x", "unclosed tag '{%'", 2),
    ("{% if x %}yes", "'if' tag was never closed", 1),
    ("\n\n{% for x in y %}\n{{ x }}", "'for' tag was never closed", 3),
    ("{% if a %}{% if b %}x{% endif %}", "'if' tag was never closed", 1),
    ("{% if a %}\n{% unless b %}x{% endif %}", "unexpected 'endif'", 2),
    ("{% capture x %}abc", "'capture' tag was never closed", 1),
    ("{% unless x %}abc", "'unless' tag was never closed", 1),
    ("{% raw %}abc", "'raw' tag was never closed", 1),
    ("ok\n{% comment %}abc", "'comment' tag was never closed", 2),
    ("{% endif %}", "unexpected 'endif'", 1),
    ("x\n{% else %}", "unexpected 'else'", 2),
    ("{% if a %}{% else %}{% elsif b %}{% endif %}", "unexpected 'elsif'", 1),
    ("{% endfor %}", "unexpected 'endfor'", 1),
    ("{% bogus %}", "unknown tag 'bogus'", 1),
    ("\n{% 123 %}", "invalid tag", 2),
    ("{% %}", "invalid tag", 1),
    ("{{ }}", "empty expression", 1),
    ("{{ 'unterminated }}", "invalid expression", 1),
    ("{{ a b }}", "invalid expression", 1),
    ("{{ x | }}", "invalid filter", 1),
    ("{{ x | 9up }}", "invalid filter", 1),
    ("\n\n\n{{ x | nope }}", "unknown filter 'nope'", 4),
    ("{% if %}x{% endif %}", "invalid condition", 1),
    ("{% if a == %}x{% endif %}", "invalid condition", 1),
    ("{% if a ~ b %}x{% endif %}", "invalid condition", 1),
    ("x\n{% if a %}{% elsif == %}{% endif %}", "invalid condition", 2),
    ("{% for x %}{% endfor %}", "invalid for loop", 1),
    ("{% for x in y limit %}{% endfor %}", "invalid for loop option", 1),
    ("{% for x in y sideways %}{% endfor %}", "invalid for loop option", 1),
    ("{% assign x %}", "invalid assign", 1),
    ("{% assign = 1 %}", "invalid assign", 1),
    ("{% assign x = %}", "invalid assign", 1),
    ("{% assign x = | upcase %}", "invalid expression", 1),
    ("{% capture 1x %}{% endcapture %}", "invalid capture name", 1),
])
def test_syntax_errors(source, message, line):
    with pytest.raises(TemplateSyntaxError) as caught:
        liquid_lite.parse(source)
    assert message in caught.value.message
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")


def test_errors_share_a_base_class():
    assert issubclass(TemplateSyntaxError, LiquidError)
    assert issubclass(liquid_lite.RenderError, LiquidError)


def test_error_without_line_has_plain_message():
    assert str(TemplateSyntaxError("boom")) == "boom"
