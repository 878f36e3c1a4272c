"""Whitespace control with `{{-`, `-}}`, `{%-` and `-%}`."""

import pytest

import liquid_lite


@pytest.mark.parametrize("source, expected", [
    ("a  {{- 'x' }}  b", "ax  b"),
    ("a  {{ 'x' -}}  b", "a  xb"),
    ("a \n {{- 'x' -}} \n b", "axb"),
    ("a\n  {%- if true %}  x  {% endif -%}\n  b", "a  x  b"),
    ("a\n  {%- if true -%}\n  x  \n{%- endif -%}\n  b", "axb"),
    ("[{%- for i in (1..3) -%}\n  {{ i }}\n{%- endfor -%}]", "[123]"),
    ("x {%- assign y = 1 -%} y", "xy"),
    ("x {%- comment -%} hidden {%- endcomment -%} y", "xy"),
    ("x {% comment %} hidden {% endcomment -%}  y", "x y"),
    ("x {%- raw -%}  body  {%- endraw -%} y", "xbodyy"),
    ("{{- 'only' -}}", "only"),
    ("\t\n {{- 'tabs' }}", "tabs"),
    ("a {{- '' -}} b", "ab"),
])
def test_whitespace_control(source, expected):
    assert liquid_lite.render(source) == expected


def test_without_dashes_whitespace_is_kept():
    assert liquid_lite.render("a \n{% if true %}\n b \n{% endif %}\n c") == "a \n\n b \n\n c"
