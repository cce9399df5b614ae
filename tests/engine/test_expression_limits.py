"""Expression limits: every render has a work budget, and no value it makes may exceed the size cap.

Each class of attack is tried in several forms (issue 10, defects 3 and 4); what a user sees is
an ExpressionError naming the limit and the setting that changes it, never a stalled process or
a string of any size the author chooses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from wirework.engine.errors import ExpressionError
from wirework.engine.expression_limits import ExpressionLimits, configure, current_limits
from wirework.engine.expressions import EMPTY_NODES, expression_context, render_value

NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
SetLimits = Callable[..., None]


@pytest.fixture
def limits() -> Iterator[SetLimits]:
    """Set smaller limits for one test (the defaults come back after)."""
    previous = current_limits()

    def set_limits(**changes: int) -> None:
        configure(dataclasses.replace(previous, **changes))

    yield set_limits
    configure(previous)


def ctx(item: dict[str, Any] | None = None, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item = item if item is not None else {}
    return expression_context(
        item=item,
        index=0,
        items=items if items is not None else [item],
        nodes=EMPTY_NODES,
        vars={},
        execution={"id": "e1", "mode": "manual"},
        workflow={"id": "w1", "name": "Limits"},
        now=NOW,
    )


def refused(source: Any, item: dict[str, Any] | None = None) -> str:
    with pytest.raises(ExpressionError) as caught:
        render_value(source, ctx(item))
    return str(caught.value)


# -- Work (defect 3) ---------------------------------------------------------------------------


def test_the_issue_payload_three_loops_over_range_450_stops_at_the_step_budget() -> None:
    source = (
        "{% for a in range(450) %}{% for b in range(450) %}{% for c in range(450) %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    message = refused({"x": source})
    assert "more than 1,000,000 steps" in message
    assert "WIREWORK_EXPRESSION_MAX_STEPS" in message
    assert message.startswith("parameter 'x':")


@pytest.mark.parametrize(
    "source",
    [
        # loops, plain and nested, with and without a body
        "{% for a in range(300) %}{% for b in range(300) %}{% endfor %}{% endfor %}",
        "{% for a in range(100000) %}{{ '' }}{% endfor %}",
        "{% for a in range(100) %}{% for b in range(100) if b > a %}{% endfor %}{% endfor %}",
        # recursion: macros calling themselves twice, recursive loops, caller()
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}",
        "{% for a in [1, 2, 3] recursive %}{% if a < 40 %}{{ loop([a + 1, a + 1]) }}{% endif %}{% endfor %}",
        "{% macro m() %}{{ caller() }}{{ caller() }}{% endmacro %}"
        "{% for a in range(30000) %}{% call m() %}x{% endcall %}{% endfor %}",
        # other iterables and the filters that walk them
        "{{ ('x' * 200000) | list | length }}",
        "{{ range(100000) | map('string') | join(',') | length }}",
        "{{ range(100000) | batch(3) | list | length }}",
        "{{ range(100000) | select('odd') | list | length }}",
        "{{ range(100000) | max }}",
        "{{ range(100000) | reverse | sum }}",
        "{{ range(100000) | unique | list | length }}",
        "{{ range(100000) | map('string') | sort | first }}",
        "{{ dict.fromkeys(range(100000)) | length }}",
        "{{ json.words.split(' ') | length }}",
        # the same value read again and again
        "{% for a in range(5000) %}{% if 'zz' in json.text %}{% endif %}{% endfor %}",
        "{% for a in range(5000) %}{{ json.text.count('a') }}{% endfor %}",
        "{% for a in range(1000) %}{% if json.list == json.list[:] %}{% endif %}{% endfor %}",
        "{% for a in range(5000) %}{% if 7 is in json.list %}{% endif %}{% endfor %}",
        "{% for a in range(1000) %}{% if json.list is eq(json.list[:]) %}{% endif %}{% endfor %}",
        "{% for a in range(1000) %}{% set x = json.list | sort %}{% endfor %}",
        "{% for a in range(200) %}{% set x = json.text | wordwrap(5) %}{% endfor %}",
    ],
)
def test_every_kind_of_work_counts_against_the_budget(limits: SetLimits, source: str) -> None:
    limits(max_steps=50_000)
    item = {"text": "ab " * 50_000, "words": "w " * 100_000, "list": list(range(2000))}
    assert "more than 50,000 steps" in refused(source, item)


def test_all_parameters_rendered_for_one_item_share_one_budget(limits: SetLimits) -> None:
    limits(max_steps=20_000)
    loop = "{% for a in range(4000) %}{% endfor %}"
    assert render_value({"a": loop}, ctx()) == {"a": ""}
    message = refused({f"p{n}": loop for n in range(10)})
    assert "more than 20,000 steps" in message


def test_ordinary_work_fits_the_default_budget() -> None:
    items = [{"n": n, "price": n * 1.5, "tags": ["a", "b"], "name": f"item {n}"} for n in range(2000)]
    c = ctx(items[0], items)
    total = "{{ items | map(attribute='price') | sum }}"
    assert render_value(total, c) == sum(i["price"] for i in items)
    table = (
        "{% for it in items %}{{ it.name | upper }};{{ '%.2f' | format(it.price) }};"
        "{{ it.tags | join('|') }}{% if not loop.last %}\n{% endif %}{% endfor %}"
    )
    text = render_value(table, c)
    assert text.count("\n") == 1999
    assert text.startswith("ITEM 0;0.00;a|b\n")
    assert render_value("{{ items | selectattr('n', 'even') | list | length }}", c) == 1000


# -- Size (defect 4) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x'.rjust(1000000000, '-') }}",
        "{{ '1'.zfill(1000000000) }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ '{:>1000000000}'.format('x') }}",
        "{{ '{:^{}}'.format('x', 10**9) }}",
        "{{ '{0:.1000000000f}'.format(1.5) }}",
        "{{ '{a:>1000000000}'.format_map({'a': 'x'}) }}",
        "{{ '%1000000000s' % 'x' }}",
        "{{ '%.1000000000f' % 1.5 }}",
        "{{ '%(a)1000000000s' % {'a': 'x'} }}",
        "{{ '%1000000000d' | format(1) }}",
        "{{ ['%1000000000s'] | format('x') }}",
        "{{ ('x' * 1000000).replace('x', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx') }}",
        "{{ ('x' * 1000000) | replace('x', 'x' * 1000) }}",
        "{{ ('x' * 100000) | join('x' * 1000) }}",
        "{{ ('x' * 1000).join(['y' * 1000] * 6000) }}",
        "{{ range(100000) | join('x' * 1000) }}",
    ],
)
def test_the_issue_payloads_are_refused_before_they_allocate(source: str) -> None:
    message = refused(source)
    assert "larger than the expression size limit (10,000,000 bytes" in message
    assert "WIREWORK_EXPRESSION_MAX_SIZE" in message


@pytest.mark.parametrize(
    "source",
    [
        # padding and widths, every way of asking for them
        "{{ 'x'.center(200000) }}",
        "{{ ('\t' * 1000).expandtabs(1000) }}",
        "{{ 'x\ty'.expandtabs(200000) }}",
        "{{ (1).to_bytes(200000, 'big') }}",
        "{{ now.strftime('%Y' * 1000) }}",
        "{{ '{:%Y}'.format(now) * 1 if false else ('{:' ~ '%Y' * 1000 ~ '}').format(now) }}",
        "{{ '%-200000s|' % 'x' }}",
        "{{ ('%(a)s' * 1000) % {'a': 'y' * 1000} }}",
        "{{ ('{0}' * 1000).format('y' * 1000) }}",
        "{{ ('{0:>900}' * 1000).format('y') }}",
        # text filters that add per line or per word
        "{{ ('a\n' * 10000) | indent(100) }}",
        "{{ ('a\n' * 10000) | indent('-' * 100) }}",
        "{{ ('a ' * 10000) | wordwrap(1, wrapstring='x' * 100) }}",
        "{{ ('http://a.co ' * 1000) | urlize(target='x' * 1000) }}",
        "{{ lipsum(1000) }}",
        "{{ ('x' * 1000).translate({120: 'y' * 1000}) }}",
        "{{ ('ab' * 50000).replace('', 'yy') }}",
        # repetition
        "{{ 'x' * 200000 }}",
        "{{ ['x' * 1000] * 1000 }}",
        "{{ [[1, 2, 3]] * 100000 }}",
        # containers that share one big part many times over
        "{% set big = 'x' * 50000 %}{{ [big, big, big] }}",
        "{% set big = 'x' * 50000 %}{{ {'a': big, 'b': big, 'c': big} | tojson }}",
        "{{ dict.fromkeys(range(1000), 'x' * 1000) }}",
        "{% set ns = namespace(v=[1]) %}{% for a in range(40) %}{% set ns.v = [ns.v, ns.v] %}{% endfor %}",
        "{% set ns = namespace(v=[1]) %}{% for a in range(40) %}{% set ns.v = ns.v + ns.v %}{% endfor %}",
        "{{ [1] | batch(100000, 'x') | list }}",
        "{{ [1] | slice(100000) | list }}",
        "{{ (json.k * 3) | groupby(0, json.k) }}",
        "{{ ([[1] * 1000] * 200) | sum(start=[]) }}",
        # what keeps several values: a namespace, a macro's varargs and kwargs, cycler
        "{% set ns = namespace() %}{% set ns.a = json.k * 6 %}{% set ns.b = json.k * 6 %}{{ ns }}",
        "{% set ns = namespace() %}{% set ns.a %}{{ json.k * 6 }}{% endset %}"
        "{% set ns.b | upper %}{{ json.k * 6 }}{% endset %}{{ ns }}",
        "{% macro m() %}{{ varargs }}{% endmacro %}{{ m(json.k * 6, json.k * 6) }}",
        "{% macro m() %}{{ kwargs }}{% endmacro %}{{ m(a=json.k * 6, b=json.k * 6) }}",
        "{{ cycler(json.k * 6, json.k * 6).items }}",
        # accumulation: {% set %}, ~ in a loop, blocks, macros, the output itself
        "{% set ns = namespace(s='x') %}{% for a in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='') %}{% for a in range(300) %}{% set ns.s = ns.s ~ json.k %}{% endfor %}",
        "{% set x %}{% for a in range(300) %}{{ json.k }}{% endfor %}{% endset %}{{ x | length }}",
        "{% macro m() %}{% for a in range(300) %}{{ json.k }}{% endfor %}{% endmacro %}{{ m() | length }}",
        "{% filter upper %}{% for a in range(300) %}{{ json.k }}{% endfor %}{% endfilter %}",
        "{% for a in range(300) %}{{ json.k }}{% endfor %}",
        "{% for a in range(300) %}{{ loop.index ~ json.k }}{% endfor %}",
        "{{ json.k ~ json.k ~ json.k ~ json.k ~ json.k ~ json.k ~ json.k ~ json.k ~ json.k ~ json.k ~ 1 }}",
        # serialising: JSON, pprint, str()
        "{{ {'a': [json.k] * 10} | tojson(indent=2) }}",
        "{{ range(5000) | list | to_json(indent=64) }}",
        "{{ [json.k] * 10 }}",
        "{{ ([json.k] * 10) | pprint }}",
        "{{ ([json.k] * 10) | string }}",
        "{{ (json.k ~ json.k) | list }}",
        "{{ (json.k * 6)[:] ~ (json.k * 6)[::-1] }}",
    ],
)
def test_no_value_an_expression_makes_may_exceed_the_size_limit(limits: SetLimits, source: str) -> None:
    limits(max_size=100_000)
    item = {"k": "k" * 10_000}
    message = refused(source, item)
    assert "larger than the expression size limit (100,000 bytes" in message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'x'.center(5) }}", "  x  "),
        ("{{ 'x' | center(3) }}", " x "),
        ("{{ '7'.zfill(3) }}", "007"),
        ("{{ '{:>4}|{:<3}|{:^5.1f}'.format('a', 'b', 2.25) }}", "   a|b  | 2.2 "),
        ("{{ '{a}-{b}'.format_map({'a': 1, 'b': 2}) }}", "1-2"),
        ("{{ '%5s|%-3d|%.2f' % ('ab', 7, 1.5) }}", "   ab|7  |1.50"),
        ("{{ '%(n)03d' % {'n': 5} }}", "005"),
        ("{{ '%s and %s' | format('a', 'b') }}", "a and b"),
        ("{{ 'a-b-c'.replace('-', '+') }}", "a+b+c"),
        ("{{ 'a-b-c' | replace('-', '') }}", "abc"),
        ("{{ ['a', 'b'] | join(', ') }}", "a, b"),
        ("{{ ', '.join(['a', 'b']) }}", "a, b"),
        ("{{ [{'n': 'a'}, {'n': 'b'}] | join('/', attribute='n') }}", "a/b"),
        ("{{ 'a\nb' | indent(2, first=true) }}", "  a\n  b"),
        ("{{ 'aaa bbb' | wordwrap(3) }}", "aaa\nbbb"),
        ("{{ [1, 2, 3] | batch(2, 0) | list }}", [[1, 2], [3, 0]]),
        ("{{ [[1], [2, 3]] | sum(start=[]) }}", [1, 2, 3]),
        ("{{ [1, 2, 3] | sum }}", 6),
        ("{{ [1] * 3 + [2] }}", [1, 1, 1, 2]),
        ("{{ 2 ** 100 }}", 2**100),
        ("{{ (10 ** 4000) | string | length }}", 4001),
        ("{{ {'a': [1, 2]} | tojson(indent=2) }}", '{\n  "a": [\n    1,\n    2\n  ]\n}'),
        ("{{ {'b': 1, 'a': '<'} | tojson }}", '{"a": "\\u003c", "b": 1}'),
        ("{{ {'a': 1} | to_json }}", '{"a":1}'),
        ("{{ {'a': 1} | to_json(2) }}", '{\n  "a": 1\n}'),
        ("{{ [1, 'a'] | pprint }}", "[1, 'a']"),
        ("{{ now.strftime('%Y-%m-%d') }}", "2024-05-17"),
        (
            "{% set ns = namespace(n=0) %}{% for a in range(4) %}{% set ns.n = ns.n + a %}{% endfor %}"
            "{{ ns.n }}",
            "6",
        ),
        ("{% set ns = namespace() %}{% set ns.t | upper %}ab{% endset %}{{ ns.t }}", "AB"),
        ("{% macro m() %}{{ varargs | join(',') }}{{ kwargs.k }}{% endmacro %}{{ m(1, 2, k='!') }}", "1,2!"),
        ("{{ '{:%H:%M}'.format(now) }}", "09:30"),
        ("{{ (1).to_bytes(2, 'big') | length }}", 2),
        ("{{ 'x\ty'.expandtabs(4) }}", "x   y"),
        ("{{ lipsum(1, html=false) | length > 10 }}", True),
        (
            "{% set ns = namespace(s='') %}{% for a in range(3) %}{% set ns.s = ns.s ~ a %}{% endfor %}"
            "{{ ns.s }}",
            "012",
        ),
    ],
)
def test_values_within_the_limits_render_as_before(source: str, expected: Any) -> None:
    assert render_value(source, ctx()) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ (2 ** 10000) * (2 ** 10000) }}",
        "{{ 3 ** 100000 }}",
        "{{ 10 ** 4299 }}",
        "{{ 10 ** 4000 * 10 ** 4000 }}",
        "{{ ('1' * 20000) | int(base=2) }}",
    ],
)
def test_numbers_are_limited_to_what_can_be_written_as_json(source: str) -> None:
    assert "a number of more than 14,000 bits" in refused(source)


def test_a_long_json_indent_is_refused() -> None:
    assert "indent of more than 64" in refused("{{ [[1]] | tojson(indent='-' * 1000) }}")
    assert "indent of more than 64" in refused("{{ [[1]] | to_json(1000) }}")


def test_a_value_the_size_of_the_limit_is_allowed(limits: SetLimits) -> None:
    limits(max_size=100_000)
    assert len(render_value("{{ 'x' * 100000 }}", ctx())) == 100_000
    assert len(render_value("{{ 'x'.ljust(100000) }}", ctx())) == 100_000
    assert "larger than" in refused("{{ 'x' * 100001 }}")


def test_inputs_larger_than_the_limit_can_still_be_read(limits: SetLimits) -> None:
    """The cap is on what expressions make; reading fields of a big item is fine."""
    limits(max_size=100_000)
    item = {"body": "b" * 500_000, "rows": [{"id": n} for n in range(20_000)]}
    assert render_value("{{ json.body | length }}", ctx(item)) == 500_000
    assert render_value("{{ json.rows[7].id }}", ctx(item)) == 7
    assert render_value("{{ json.body[:3] }}", ctx(item)) == "bbb"


def test_limits_default_to_the_documented_values() -> None:
    assert current_limits() == ExpressionLimits(max_steps=1_000_000, max_size=10_000_000)


def test_an_expression_too_costly_to_compile_is_refused_before_compiling() -> None:
    """Compiling is outside a render's budget, and its cost grows with the expression's tokens:
    a 600 KB list literal held the event loop for 12 s. Such a string is refused, quickly."""
    from jinja2 import TemplateSyntaxError

    from wirework.engine.expressions import MAX_TEMPLATE_TOKENS, compile_template

    for source in (
        "{{ [" + ",".join(["1"] * 300_000) + "] | length }}",
        "{{ 1 }}" * 50_000,
        "{{ " + " ~ ".join(["'a'"] * 20_000) + " }}",
    ):
        with pytest.raises(TemplateSyntaxError, match=f"more than {MAX_TEMPLATE_TOKENS:,}"):
            compile_template(source)
    # Long text around a few expressions is fine: plain text costs nothing to compile.
    page = "<p>hello</p>" * 20_000 + "{{ json.name }}"
    assert compile_template(page) is not None
