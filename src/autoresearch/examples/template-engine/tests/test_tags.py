"""Block and statement tags: if/elsif/else, unless, for, assign, capture, comment, raw."""

import pytest

import liquid_lite

VALUES = {"a": 1, "b": 2, "s": "hello", "t": True, "f": False, "n": None, "list": [1, 2, 3],
          "d": {"k": "v"}, "blank_s": "  ", "empty_l": [], "x": 2.0}


@pytest.mark.parametrize("condition, expected", [
    ("t", True), ("f", False), ("n", False), ("missing", False), ("0", True), ("''", True),
    ("a == 1", True), ("a != 1", False), ("a <> 2", True), ("a < b", True), ("a > b", False),
    ("a <= 1", True), ("b >= 3", False), ("x == 2", True), ("a == '1'", False),
    ("s == 'hello'", True), ("s < 'z'", True), ("s > 1", False), ("n == nil", True),
    ("t == true", True), ("a == true", False),
    ("s contains 'ell'", True), ("s contains 'xyz'", False), ("list contains 2", True),
    ("list contains 9", False), ("d contains 'k'", True), ("a contains 1", False),
    ("s contains n", False),
    ("empty_l == empty", True), ("list == empty", False), ("'' == empty", True),
    ("blank_s == blank", True), ("n == blank", True), ("s == blank", False),
    ("empty_l != empty", False),
    ("t and f", False), ("t or f", True), ("f or f", False), ("t and t and t", True),
    ("f or t and t", True), ("t or f and f", True), ("f and f or t", False),
    ("a == 1 and s contains 'h'", True), ("a == 2 or b == 2", True),
    ("a==1", True), ("s == 'a and b'", False), ("s != 'x or y'", True),
])
def test_conditions(condition, expected):
    source = "{% if " + condition + " %}yes{% else %}no{% endif %}"
    assert liquid_lite.render(source, VALUES) == ("yes" if expected else "no")


def test_elsif_chain(render):
    source = "{% if n == 1 %}one{% elsif n == 2 %}two{% elsif n == 3 %}three{% else %}many{% endif %}"
    assert [render(source, n=i) for i in (1, 2, 3, 4)] == ["one", "two", "three", "many"]


def test_if_without_else_renders_nothing(render):
    assert render("a{% if false %}b{% endif %}c") == "ac"


def test_unless(render):
    source = "{% unless t %}no{% else %}yes{% endunless %}"
    assert render(source, t=True) == "yes"
    assert render(source, t=False) == "no"
    assert render("{% unless missing %}shown{% endunless %}") == "shown"


def test_for_loop_with_forloop_object(render):
    source = ("{% for x in list %}{{ forloop.index }}/{{ forloop.index0 }}/{{ forloop.rindex }}/"
              "{{ forloop.rindex0 }}/{{ forloop.first }}/{{ forloop.last }}/{{ forloop.length }}:"
              "{{ x }} {% endfor %}")
    assert render(source, list=["a", "b"]) == (
        "1/0/2/1/true/false/2:a 2/1/1/0/false/true/2:b ")


@pytest.mark.parametrize("tag, expected", [
    ("for x in list", "12345"),
    ("for x in list limit: 2", "12"),
    ("for x in list limit:2", "12"),
    ("for x in list offset: 3", "45"),
    ("for x in list offset: 1 limit: 2", "23"),
    ("for x in list limit: 2 offset: 1", "23"),
    ("for x in list reversed", "54321"),
    ("for x in list reversed limit: 2", "21"),
    ("for x in list limit: 0", "empty"),
    ("for x in list offset: 9", "empty"),
    ("for x in list limit: n", "123"),
    ("for x in (1..3)", "123"),
    ("for x in (2..n)", "23"),
    ("for x in (3..1)", "empty"),
    ("for x in (n..n)", "3"),
    ("for x in missing", "empty"),
    ("for x in nothing", "empty"),
])
def test_for_options(render, tag, expected):
    source = "{% " + tag + " %}{{ x }}{% else %}empty{% endfor %}"
    assert render(source, list=[1, 2, 3, 4, 5], n=3, nothing=[]) == expected


def test_for_over_dict_yields_pairs(render):
    assert render("{% for p in d %}{{ p[0] }}={{ p[1] }};{% endfor %}", d={"a": 1, "b": 2}) == "a=1;b=2;"


def test_for_over_string_iterates_once(render):
    assert render("{% for c in s %}[{{ c }}]{% endfor %}", s="abc") == "[abc]"


def test_nested_loops_and_shadowing(render):
    source = ("{% for x in outer %}{% for x in inner %}{{ x }}{% endfor %}{{ x }}|{% endfor %}"
              "{{ x }}")
    assert render(source, outer=["A", "B"], inner=[1, 2], x="top") == "12A|12B|top"


def test_nested_forloop_objects_are_independent(render):
    source = ("{% for a in (1..2) %}{% for b in (1..3) %}{{ forloop.index }}{% endfor %}"
              "-{{ forloop.index }} {% endfor %}")
    assert render(source) == "123-1 123-2 "


def test_assign(render):
    assert render("{% assign x = 'hi' | upcase %}{{ x }} {{ x }}") == "HI HI"
    assert render("{% assign n = 2 | times: 3 | plus: 1 %}{{ n }}") == "7"
    assert render("{% assign copy = list %}{{ copy | join: ',' }}", list=[1, 2]) == "1,2"


def test_assign_inside_loop_is_visible_after_it(render):
    source = "{% for x in (1..4) %}{% assign last = x %}{% endfor %}{{ last }}"
    assert render(source) == "4"


def test_accumulating_assign(render):
    source = "{% assign total = 0 %}{% for x in list %}{% assign total = total | plus: x %}{% endfor %}{{ total }}"
    assert render(source, list=[1, 2, 3, 4]) == "10"


def test_capture(render):
    source = "{% capture greeting %}Hello {{ name }}!{% endcapture %}[{{ greeting }}] {{ greeting.size }}"
    assert render(source, name="Bo") == "[Hello Bo!] 9"


def test_comment_is_dropped(render):
    assert render("a{% comment %} anything {{ here }} {% if %} {% endcomment %}b") == "ab"


def test_raw_is_verbatim(render):
    assert render("{% raw %}{{ x }} {% if y %}{% endraw %}!") == "{{ x }} {% if y %}!"
    assert render("{% raw %}{{ unclosed{% endraw %}") == "{{ unclosed"


def test_multiline_tags(render):
    source = "{% if a ==\n 1 %}{{\n a\n | plus: 1 }}{% endif %}"
    assert render(source, a=1) == "2"
