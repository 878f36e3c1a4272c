"""Every standard filter, with arguments given as literals and as variables."""

import pytest

import liquid_lite
from liquid_lite import RenderError, TemplateSyntaxError

DATA = {
    "words": ["b", "a", "c"],
    "nums": [3, 1, 2],
    "mixed": [3, "a", None, 1],
    "people": [{"name": "Bo", "age": 30, "admin": True}, {"name": "Al", "age": 25},
               {"name": "Cy", "age": 35, "admin": False}],
    "text": "  Hello World  ",
    "html": "<a href=\"x\">Tom & Jerry's</a>",
    "price": 123456,
    "sep": "+",
    "dupes": [1, 2, 1, 3, 2],
}


@pytest.mark.parametrize("source, expected", [
    ("{{ 'abc' | upcase }}", "ABC"),
    ("{{ 'ABC' | downcase }}", "abc"),
    ("{{ 'hello WORLD' | capitalize }}", "Hello world"),
    ("{{ text | strip }}", "Hello World"),
    ("{{ text | lstrip }}", "Hello World  "),
    ("{{ text | rstrip }}", "  Hello World"),
    ("{{ 'a\nb\r\nc' | strip_newlines }}", "abc"),
    ("{{ 'a\nb' | newline_to_br }}", "a<br />\nb"),
    ("{{ 'hello' | size }}", "5"),
    ("{{ words | size }}", "3"),
    ("{{ 5 | size }}", "0"),
    ("{{ missing | default: 'none' }}", "none"),
    ("{{ '' | default: 'none' }}", "none"),
    ("{{ false | default: 'none' }}", "none"),
    ("{{ 0 | default: 'none' }}", "0"),
    ("{{ 'x' | default: 'none' }}", "x"),
    ("{{ words | join }}", "b a c"),
    ("{{ words | join: ', ' }}", "b, a, c"),
    ("{{ words | join: sep }}", "b+a+c"),
    ("{{ 'a' | append: 'b' }}", "ab"),
    ("{{ 'a' | append: price }}", "a123456"),
    ("{{ 'a' | prepend: 'b' }}", "ba"),
    ("{{ 'aXbXc' | replace: 'X', '-' }}", "a-b-c"),
    ("{{ 'aXbXc' | replace: 'X' }}", "abc"),
    ("{{ 'aXbXc' | replace_first: 'X', '-' }}", "a-bXc"),
    ("{{ 'aXbXc' | remove: 'X' }}", "abc"),
    ("{{ 'aXbXc' | remove_first: 'X' }}", "abXc"),
    ("{{ 'abcdefghij' | truncate: 5 }}", "ab..."),
    ("{{ 'abcdefghij' | truncate: 5, '!' }}", "abcd!"),
    ("{{ 'abcdefghij' | truncate: 20 }}", "abcdefghij"),
    ("{{ 'abcdefghij' | truncate: 2 }}", "..."),
    ("{{ 'abcdefghij' | truncate: 10 }}", "abcdefghij"),
    ("{{ 'one two three four' | truncatewords: 2 }}", "one two..."),
    ("{{ 'one two three four' | truncatewords: 2, '' }}", "one two"),
    ("{{ 'one two' | truncatewords: 5 }}", "one two"),
    ("{{ html | escape }}", "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"),
    ("{{ '&amp;' | escape }}", "&amp;amp;"),
    ("{{ 2 | plus: 3 }}", "5"),
    ("{{ '2' | plus: '3' }}", "5"),
    ("{{ 2 | plus: 0.5 }}", "2.5"),
    ("{{ 'abc' | plus: 1 }}", "1"),
    ("{{ 10 | minus: 4 }}", "6"),
    ("{{ 3 | times: 4 }}", "12"),
    ("{{ 3 | times: 1.5 }}", "4.5"),
    ("{{ 7 | divided_by: 2 }}", "3"),
    ("{{ 7 | divided_by: 2.0 }}", "3.5"),
    ("{{ -7 | divided_by: 2 }}", "-4"),
    ("{{ 7 | modulo: 3 }}", "1"),
    ("{{ -5 | abs }}", "5"),
    ("{{ 2.5 | round }}", "3"),
    ("{{ 3.14159 | round: 2 }}", "3.14"),
    ("{{ 2.1 | ceil }}", "3"),
    ("{{ 2.9 | floor }}", "2"),
    ("{{ 2 | at_least: 5 }}", "5"),
    ("{{ 9 | at_most: 5 }}", "5"),
    ("{{ price | money }}", "$1,234.56"),
    ("{{ 5 | money }}", "$0.05"),
    ("{{ -250 | money }}", "-$2.50"),
    ("{{ words | first }}", "b"),
    ("{{ words | last }}", "c"),
    ("{{ 'xyz' | first }}", "x"),
    ("{{ '' | first }}", ""),
    ("{{ words | reverse | join: '' }}", "cab"),
    ("{{ words | sort | join: '' }}", "abc"),
    ("{{ nums | sort | join: ',' }}", "1,2,3"),
    ("{{ mixed | sort | join: ',' }}", ",1,3,a"),
    ("{{ people | sort: 'age' | map: 'name' | join: ',' }}", "Al,Bo,Cy"),
    ("{{ people | sort: 'name' | first | map: 'age' }}", "25"),
    ("{{ dupes | uniq | join: ',' }}", "1,2,3"),
    ("{{ mixed | compact | size }}", "3"),
    ("{{ people | map: 'name' | join: ' ' }}", "Bo Al Cy"),
    ("{{ people | where: 'admin' | map: 'name' | join }}", "Bo"),
    ("{{ people | where: 'age', 25 | map: 'name' | join }}", "Al"),
    ("{{ 'a,b,,c' | split: ',' | size }}", "4"),
    ("{{ 'a b  c' | split: ' ' | join: '|' }}", "a|b|c"),
    ("{{ 'abc' | split: '' | join: '-' }}", "a-b-c"),
    ("{{ '' | split: ',' | size }}", "0"),
    ("{{ 'hello' | slice: 1, 3 }}", "ell"),
    ("{{ 'hello' | slice: -2, 2 }}", "lo"),
    ("{{ words | slice: 1 | join }}", "a"),
    ("{{ 'a|b' | split: '|' | join: ':' }}", "a:b"),
    ("{{ 'x, y' | append: ', z' }}", "x, y, z"),
    ("{{ 'ab' | upcase | append: 'c' | prepend: '>' }}", ">ABc"),
])
def test_filter(source, expected):
    assert liquid_lite.render(source, DATA) == expected


@pytest.mark.parametrize("text, expected", [
    ("plain", "plain"),
    ("5 > 3", "5 &gt; 3"),
    ('say "hi"', "say &quot;hi&quot;"),
    ("it's", "it&#39;s"),
    ("a & b", "a &amp; b"),
    ("<b>", "&lt;b&gt;"),
    ("", ""),
])
def test_escape_each_special_character(text, expected):
    assert liquid_lite.render("{{ text | escape }}", {"text": text}) == expected


def test_unknown_filter_is_a_syntax_error():
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'shout'"):
        liquid_lite.parse("{{ x | shout }}")


def test_missing_filter_argument_is_a_syntax_error():
    with pytest.raises(TemplateSyntaxError, match="missing argument"):
        liquid_lite.parse("{{ x | append: }}")


@pytest.mark.parametrize("source", ["{{ 1 | divided_by: 0 }}", "{{ 1 | modulo: 0 }}"])
def test_division_by_zero_raises_render_error(source):
    template = liquid_lite.parse(source)
    with pytest.raises(RenderError):
        template.render()


def test_filters_registry_is_public():
    assert {"upcase", "escape", "truncate", "money"} <= set(liquid_lite.FILTERS)
