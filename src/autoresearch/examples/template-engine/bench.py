"""Benchmark: parse and render realistic templates; print METRIC lines for autoresearch."""

import gc
import os
import statistics
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import liquid_lite  # noqa: E402  (must come from this directory, never an installed copy)

REPEATS = 9

PRODUCT_LISTING = """<!DOCTYPE html>
<html>
<head><title>{{ shop.name | escape }} - {{ collection.title | escape }}</title></head>
<body>
<nav>
  <ul>
  {%- for link in shop.menu %}
    <li{% if link.url == collection.url %} class="active"{% endif %}><a href="{{ link.url }}">{{ link.title | escape }}</a></li>
  {%- endfor %}
  </ul>
</nav>
<h1>{{ collection.title | upcase }}</h1>
{% if collection.description != blank %}<p class="intro">{{ collection.description | strip | truncate: 120 }}</p>{% endif %}
<p>{{ collection.products.size }} products{% if collection.products.size > 20 %}, page {{ page }} of {{ pages }}{% endif %}</p>
<div class="grid">
{% for product in collection.products %}
  <div class="card{% if forloop.first %} first{% endif %}{% if forloop.last %} last{% endif %}" data-index="{{ forloop.index }}">
    <a href="/products/{{ product.handle }}">
      <img src="{{ product.image | default: '/img/placeholder.png' }}" alt="{{ product.title | escape }}">
      <h2>{{ product.title | escape }}</h2>
    </a>
    <p class="vendor">by {{ product.vendor | capitalize }}</p>
    {% if product.available == false %}
      <span class="badge sold-out">Sold out</span>
    {% elsif product.compare_at_price > product.price %}
      <span class="badge sale">Save {{ product.compare_at_price | minus: product.price | money }}</span>
    {% else %}
      <span class="badge">{{ product.type | downcase }}</span>
    {% endif %}
    <p class="price">{{ product.price | money }}{% if product.compare_at_price > product.price %} <s>{{ product.compare_at_price | money }}</s>{% endif %}</p>
    <p class="desc">{{ product.description | strip_newlines | truncatewords: 12 }}</p>
    <ul class="tags">{% for tag in product.tags limit: 3 %}<li>{{ tag | downcase | replace: ' ', '-' }}</li>{% endfor %}</ul>
    <select name="variant">
    {%- for variant in product.variants %}
      <option value="{{ variant.id }}"{% unless variant.available %} disabled{% endunless %}>{{ variant.title }} - {{ variant.price | money }}</option>
    {%- endfor %}
    </select>
    {% assign rating = product.rating | round: 1 %}
    <div class="rating" title="{{ rating }} of 5">{% for star in (1..5) %}{% if star <= product.rating %}*{% else %}.{% endif %}{% endfor %}</div>
  </div>
{% endfor %}
</div>
<footer>{{ shop.name }} &copy; {{ year }} | {{ shop.menu | map: 'title' | join: ' / ' }}</footer>
</body>
</html>
"""

ORDER_EMAIL = """{% capture greeting %}Hi {{ customer.first_name | capitalize | default: 'there' }},{% endcapture -%}
{{ greeting }}

Thank you for your order #{{ order.number }}!{% if customer.orders_count > 1 %} Welcome back - this is order number {{ customer.orders_count }}.{% endif %}

{% comment %}Line items, one per row. Prices are in cents.{% endcomment -%}
{%- for item in order.line_items %}
{{ forloop.index }}. {{ item.title | truncate: 40 }}{% if item.variant_title %} ({{ item.variant_title }}){% endif %}
   {{ item.quantity }} x {{ item.price | money }} = {{ item.price | times: item.quantity | money }}
   {%- if item.quantity >= 3 %} - bulk discount applied{% endif %}
{%- endfor %}

{% assign subtotal = 0 -%}
{%- for item in order.line_items -%}
  {%- assign line = item.price | times: item.quantity -%}
  {%- assign subtotal = subtotal | plus: line -%}
{%- endfor -%}
Subtotal: {{ subtotal | money }}
{% if order.discount_code %}Discount ({{ order.discount_code | upcase }}): -{{ order.discount | money }}
{% endif -%}
Shipping: {% if subtotal >= 5000 %}free{% else %}{{ order.shipping | money }}{% endif %}
Total: {% if subtotal >= 5000 %}{{ subtotal | minus: order.discount | money }}{% else %}{{ subtotal | minus: order.discount | plus: order.shipping | money }}{% endif %}

Shipping to:
{{ order.address.name }}
{{ order.address.street }}
{{ order.address.zip }} {{ order.address.city | upcase }}, {{ order.address.country }}

{% unless order.gift %}Your receipt is attached.{% else %}We left the prices off the packing slip.{% endunless %}
{% if customer.tags contains 'vip' or order.line_items.size > 10 and customer.accepts_marketing %}P.S. As a thank-you, use code {{ 'thanks' | append: order.number | upcase }} next time.{% endif %}
"""

BLOG_INDEX = """<section class="blog">
<h1>{{ blog.title }}</h1>
{% for post in blog.posts offset: 1 limit: 16 %}
<article id="post-{{ post.id }}" class="{% if forloop.index0 == 0 %}lead{% else %}teaser{% endif %}">
  <h2><a href="{{ blog.url | append: '/' | append: post.handle }}">{{ post.title }}</a></h2>
  <p class="meta">{{ post.author | default: 'Staff' }} &middot; {{ post.comments.size }} comment{% if post.comments.size != 1 %}s{% endif %}
  {%- if post.tags.size > 0 %} &middot; {{ post.tags | sort | join: ', ' }}{% endif %}</p>
  <p>{{ post.body | strip_newlines | truncatewords: 30, ' [...]' }}</p>
  {% if post.comments.size > 0 %}<ol class="comments">{% for comment in post.comments reversed limit: 2 %}<li>{{ comment.author }}: {{ comment.body | escape | truncate: 60 }}</li>{% endfor %}</ol>{% endif %}
</article>
{% else %}
<p>No posts yet.</p>
{% endfor %}
{% raw %}<script>var config = {{ "paging": true }}; // {% not liquid %}</script>{% endraw %}
</section>
"""

MENU = """{%- for section in menu -%}
<ul class="level-1">
  <li>{{ section.title }}
  {%- if section.children.size > 0 %}
    <ul class="level-2">
    {%- for child in section.children %}
      <li><a href="{{ child.url }}">{{ child.title }}</a>
      {%- if child.children != empty %}
        <ul class="level-3">{% for leaf in child.children %}<li><a href="{{ leaf.url }}"{% if leaf.url == current_url %} aria-current="page"{% endif %}>{{ leaf.title | escape }}</a></li>{% endfor %}</ul>
      {%- endif %}</li>
    {%- endfor %}
    </ul>
  {%- endif %}</li>
</ul>
{%- endfor -%}
"""

CSV_EXPORT = """id,handle,title,price,available,tags
{% for p in products -%}
{{ p.id }},{{ p.handle }},"{{ p.title | replace: '"', "'" }}",{{ p.price | divided_by: 100.0 }},{{ p.available }},{{ p.tags | join: ';' | downcase }}
{% endfor -%}
"""


def _words(seed, count):
    vocabulary = ("classic cotton linen wool merino soft everyday relaxed slim organic recycled "
                  "durable lightweight warm breathable premium vintage tailored cozy natural "
                  "summer winter handmade limited edition essential").split()
    return " ".join(vocabulary[(seed * 7 + i * 3) % len(vocabulary)] for i in range(count))


def make_products(count):
    products = []
    for i in range(count):
        price = 1500 + (i * 737) % 9000
        products.append({
            "id": 1000 + i,
            "handle": f"product-{i}",
            "title": _words(i, 3).title() + (' "Special"' if i % 11 == 0 else ""),
            "vendor": ("acme", "globex", "initech", "umbrella")[i % 4],
            "type": ("Shirt", "Sweater", "Jacket")[i % 3],
            "price": price,
            "compare_at_price": price + 1000 if i % 4 == 0 else 0,
            "available": i % 7 != 3,
            "image": None if i % 5 == 0 else f"/img/p{i}.jpg",
            "description": _words(i, 24) + ".\nMachine washable.",
            "tags": [_words(i + k, 1).title() + " Line" for k in range(4)],
            "rating": (i * 13) % 50 / 10,
            "variants": [{"id": i * 10 + v, "title": size, "price": price + v * 200,
                          "available": (i + v) % 5 != 0}
                         for v, size in enumerate(("S", "M", "L"))],
        })
    return products


def make_workload():
    """Return [(name, source, variables)]; the data is deterministic."""
    products = make_products(40)
    shop = {"name": "Fabric & Co", "menu": [{"title": t, "url": f"/collections/{t.lower()}"}
                                            for t in ("New", "Shirts", "Sweaters", "Jackets", "Sale")]}
    listing = {"shop": shop, "page": 1, "pages": 3, "year": 2024,
               "collection": {"title": "Shirts", "url": "/collections/shirts", "products": products,
                              "description": "  Everything with buttons, collars and sleeves.  "}}
    items = [{"title": p["title"], "variant_title": p["variants"][i % 3]["title"] if i % 2 else None,
              "price": p["price"], "quantity": 1 + i % 4} for i, p in enumerate(products[:12])]
    email = {"customer": {"first_name": "ada", "orders_count": 3, "tags": ["vip", "newsletter"],
                          "accepts_marketing": True},
             "order": {"number": 10452, "line_items": items, "discount_code": "spring",
                       "discount": 1250, "shipping": 695, "gift": False,
                       "address": {"name": "Ada Lovelace", "street": "12 St James's Square",
                                   "zip": "SW1Y 4JH", "city": "London", "country": "UK"}}}
    posts = [{"id": i, "handle": f"post-{i}", "title": _words(i, 5).capitalize(),
              "author": None if i % 6 == 0 else f"Author {i % 4}",
              "tags": [_words(i + k, 1) for k in range(i % 4)],
              "body": _words(i, 60) + "\n" + _words(i + 1, 40),
              "comments": [{"author": f"reader{c}", "body": _words(i + c, 15) + " <3"}
                           for c in range(i % 5)]} for i in range(20)]
    blog = {"blog": {"title": "Journal", "url": "/blogs/journal", "posts": posts}}
    menu = {"current_url": "/c/1/2/0", "menu": [
        {"title": f"Section {a}", "children": [
            {"title": f"Group {a}.{b}", "url": f"/c/{a}/{b}", "children": [
                {"title": f"Item <{a}.{b}.{c}>", "url": f"/c/{a}/{b}/{c}"} for c in range(b % 4)]}
            for b in range(5)]} for a in range(6)]}
    export = {"products": products}
    return [("product_listing", PRODUCT_LISTING, listing), ("order_email", ORDER_EMAIL, email),
            ("blog_index", BLOG_INDEX, blog),
            ("menu", MENU, menu), ("csv_export", CSV_EXPORT, export)]


def run_once(workload):
    """Parse every template, then render each; return (parse ns, render ns)."""
    start = time.perf_counter_ns()
    templates = [liquid_lite.parse(source) for _, source, _ in workload]
    parsed = time.perf_counter_ns()
    for template, (_, _, variables) in zip(templates, workload):
        template.render(variables)
    return parsed - start, time.perf_counter_ns() - parsed


def count_allocations(workload):
    """Bytes at the tracemalloc high-water mark while rendering, summed over the templates.

    The templates are parsed before tracing starts, so this measures render-time memory
    pressure: buffers, temporaries and anything kept alive while rendering.
    """
    templates = [(liquid_lite.parse(source), variables) for _, source, variables in workload]
    total = 0
    tracemalloc.start()
    for template, variables in templates:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        template.render(variables)
        total += tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return total


def main():
    workload = make_workload()
    gc.collect()
    gc.disable()
    # Count first, in a fresh process: memory that caches keep across renders shows up here.
    allocations = count_allocations(workload)
    for _ in range(2):
        run_once(workload)  # warm-up
    samples = [run_once(workload) for _ in range(REPEATS)]
    gc.enable()
    parse_us = min(parse for parse, _ in samples) / 1000
    render_us = min(render for _, render in samples) / 1000
    combined_us = statistics.median(parse + render for parse, render in samples) / 1000
    lines = [f"METRIC combined_us={combined_us:.1f}", f"METRIC parse_us={parse_us:.1f}",
             f"METRIC render_us={render_us:.1f}", f"METRIC allocations={allocations}"]
    print("\n".join(lines))
    result_file = os.environ.get("AUTORESEARCH_RESULT_FILE")
    if result_file:
        with open(result_file, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
