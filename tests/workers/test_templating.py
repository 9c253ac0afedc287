"""render_template: variables, fallbacks and the standard variables every template may use."""

from __future__ import annotations

import datetime as dt

from workers.templating import render_template, standard_variables, template_variables


def test_variables_are_replaced_by_their_values():
    text = render_template("Hi {{name}}, I am {{ agent }}. Protocol {{protocol}}.",
                           {"name": "Maria", "agent": "Ana", "protocol": 42})

    assert text == "Hi Maria, I am Ana. Protocol 42."


def test_a_missing_or_empty_variable_becomes_its_fallback_or_nothing():
    variables = {"firstName": "", "agent": None}

    assert render_template("Hi {{firstName|there}}!", variables) == "Hi there!"
    assert render_template("Hi {{ firstName | amigo }}!", variables) == "Hi amigo!"
    assert render_template("Agent: {{agent}}.", variables) == "Agent:."
    assert render_template("{{unknown}}x", {}) == "x"


def test_a_variable_that_renders_empty_takes_the_space_before_it_unless_a_word_follows():
    assert render_template("Olá {{firstName}}! Em que podemos ajudar?", {}) == "Olá! Em que podemos ajudar?"
    assert render_template("Olá {{firstName}} {{lastName}}, tudo bem?", {}) == "Olá, tudo bem?"
    assert render_template("Olá {{firstName}}", {}) == "Olá"
    assert render_template("Oi {{firstName}} tudo bem", {}) == "Oi tudo bem"
    assert render_template("Olá {{firstName}}!", {"firstName": "Ana"}) == "Olá Ana!"


def test_names_match_case_insensitively_and_other_braces_stay():
    assert render_template("{{FIRSTNAME}} {x} {{ not a var }}", {"firstName": "Jo"}) == "Jo {x} {{ not a var }}"


def test_template_variables_lists_the_names_used():
    assert template_variables("{{name}} {{ agent|x }} {{name}}") == {"name", "agent"}


def test_standard_variables_split_the_name_and_format_the_local_time():
    values = standard_variables(name="Maria da Silva", agent="Ana", protocol="20260101-7",
                                now=dt.datetime(2026, 1, 31, 9, 5))

    assert values["firstName"] == "Maria" and values["lastName"] == "Silva"
    assert values["date"] == "2026-01-31" and values["time"] == "09:05"
    assert render_template("Olá {{firstName}}, {{agent}} ({{protocol}})", values) == "Olá Maria, Ana (20260101-7)"


def test_a_single_name_has_no_last_name():
    assert standard_variables(name="Cher")["lastName"] == ""
    assert standard_variables()["firstName"] == ""
