"""The benchmark's templates render byte-for-byte identical output (optimizations must not change it)."""

import hashlib

import pytest

import bench
import liquid_lite

EXPECTED = {
    "product_listing": (31531, "eb3da55703d02c7327c8cc215bfdba5dbf146d3c5cdf3b637851d87195be30bf"),
    "order_email": (1097, "5bfca406f9b63e50df7d4ac5bc0c3d669bb45c64b10fd6f5e0c2bc3624b0e383"),
    "blog_index": (9427, "16b25321eab8e852ac23a44176266184469110750ebbf2d3e4b8e14f3f0ea10f"),
    "menu": (4304, "af4650139e55bee6a73d97b2a267da1b798b25f06006662a43858e339744e831"),
    "csv_export": (4179, "6d15a20daacee182a38bdc3d3484ef96feae33b8becfffe175513cb99234c482"),
}

WORKLOAD = {name: (source, variables) for name, source, variables in bench.make_workload()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_workload_output_is_unchanged(name):
    source, variables = WORKLOAD[name]
    output = liquid_lite.render(source, variables)
    length, digest = EXPECTED[name]
    assert len(output) == length
    assert hashlib.sha256(output.encode()).hexdigest() == digest


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parsed_template_renders_the_same_twice(name):
    source, variables = WORKLOAD[name]
    template = liquid_lite.parse(source)
    assert template.render(variables) == template.render(variables)


def test_order_email_totals():
    source, variables = WORKLOAD["order_email"]
    output = liquid_lite.render(source, variables)
    assert "Subtotal: $1,776.60" in output
    assert "Total: $1,764.10" in output
    assert "THANKS10452" in output


def test_product_listing_structure():
    source, variables = WORKLOAD["product_listing"]
    output = liquid_lite.render(source, variables)
    assert output.count('<div class="card') == 40
    assert '<li class="active"><a href="/collections/shirts">Shirts</a></li>' in output
    assert "&quot;Special&quot;" in output
