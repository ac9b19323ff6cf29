"""Reply hygiene as pure functions: Markdown to WhatsApp, the cut at a
sentence end, and the handoff marker."""
from __future__ import annotations

import pytest

from python_services.llm.postprocess import cut_at_sentence, finish_reply, markdown_to_whatsapp, split_handoff


@pytest.mark.parametrize("markdown, whatsapp", [
    ("**bold**", "*bold*"),
    ("a **bold** and **more bold** word", "a *bold* and *more bold* word"),
    ("__underlined bold__", "_underlined bold_"),
    ("~~gone~~", "~gone~"),
    ("*already whatsapp bold*", "*already whatsapp bold*"),
    ("_italic_", "_italic_"),
    ("# Title", "*Title*"),
    ("### **Bold** title ###", "*Bold title*"),
    ("[our site](https://acme.example/a?b=1)", "our site (https://acme.example/a?b=1)"),
    ("[https://acme.example](https://acme.example)", "https://acme.example"),
    ("![the menu](https://acme.example/menu.png)", "the menu (https://acme.example/menu.png)"),
    ("* one\n* two\n+ three", "- one\n- two\n- three"),
    ("above\n\n---\n\nbelow", "above\n\nbelow"),
    ("line one<br>line two", "line one\nline two"),
    ("too\n\n\n\nmany blank lines", "too\n\nmany blank lines"),
    ("2 * 3 = 6 and 4 * 5 = 20", "2 * 3 = 6 and 4 * 5 = 20"),
    ("snake__case__name stays", "snake__case__name stays"),
])
def test_markdown_becomes_what_whatsapp_renders(markdown, whatsapp):
    assert markdown_to_whatsapp(markdown) == whatsapp


def test_a_table_becomes_one_line_a_row_with_its_headers():
    table = "Prices:\n\n| Size | Price |\n| :--- | ---: |\n| S | $10 |\n| M | $12 |\n\nThanks!"
    assert markdown_to_whatsapp(table) == "Prices:\n\n- Size: S, Price: $10\n- Size: M, Price: $12\n\nThanks!"


def test_a_table_without_a_header_row_keeps_its_cells():
    assert markdown_to_whatsapp("| a | b |\n| c | d |") == "- a, b\n- c, d"


def test_code_is_left_as_written():
    text = "Run `**not bold**` or:\n```\n# not a heading\n**x**\n```"
    assert markdown_to_whatsapp(text) == text


@pytest.mark.parametrize("text, limit, cut", [
    ("Short enough.", 100, "Short enough."),
    ("One. Two. Three is long.", 10, "One. Two."),
    ("Is it open? Yes! Until six.", 17, "Is it open? Yes!"),
    ("He said \"hi.\" Then left the shop.", 20, "He said \"hi.\""),
    ("First paragraph without a stop\n\nSecond paragraph", 40, "First paragraph without a stop"),
    ("Version 2.5 is out now and it is great", 20, "Version 2.5 is out…"),
    ("onewordthatislongerthanthelimit", 10, "onewordth…"),
])
def test_a_long_reply_is_cut_at_a_sentence_end(text, limit, cut):
    assert cut_at_sentence(text, limit) == cut
    assert len(cut_at_sentence(text, limit)) <= limit


@pytest.mark.parametrize("raw, text, handoff", [
    ("Sure! [[HANDOFF]]", "Sure!", True),
    ("[[HANDOFF]]", "", True),
    ("Calling someone [[ handoff ]] (customer is angry)", "Calling someone", True),
    ("No marker here", "No marker here", False),
    ("[HANDOFF] is not the marker", "[HANDOFF] is not the marker", False),
])
def test_the_handoff_marker_is_found_and_removed(raw, text, handoff):
    assert split_handoff(raw) == (text, handoff)


def test_a_bare_marker_turns_into_the_handoff_message():
    reply = finish_reply("[[HANDOFF]]", max_chars=100, handoff_message="Someone will answer soon.")
    assert (reply.text, reply.handoff) == ("Someone will answer soon.", True)


def test_an_empty_reply_stays_empty_for_the_caller_to_refuse():
    assert finish_reply("  \n ", max_chars=100, handoff_message="x").text == ""


def test_a_model_imitating_the_team_label_loses_it():
    reply = finish_reply("[human team member] We close at 6.", max_chars=100, handoff_message="")
    assert reply.text == "We close at 6."
