"""What the model is shown: the history window from Postgres (order, roles,
size, the team's turns marked), the burst at the end, and the tenant's
system prompt with its variables filled in."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from python_services.llm.prompt import HANDOFF_MARKER, HUMAN_PREFIX


def sent_messages(fake_llm):
    return fake_llm.requests[-1]["body"]["messages"]


def sent_system(fake_llm):
    return fake_llm.requests[-1]["body"]["system"][0]["text"]


def test_the_history_comes_oldest_first_with_customer_as_user_and_bot_as_assistant(chat, reply, fake_llm):
    chat.said("customer", "Hi, do you sell shoes?")
    chat.said("bot", "Yes! Which size?")
    chat.said("customer", "42")
    chat.said("bot", "We have three models in 42.")
    reply(chat.customer_says("Show me the blue one"))

    assert sent_messages(fake_llm) == [
        {"role": "user", "content": "Hi, do you sell shoes?"},
        {"role": "assistant", "content": "Yes! Which size?"},
        {"role": "user", "content": "42"},
        {"role": "assistant", "content": "We have three models in 42."},
        {"role": "user", "content": "Show me the blue one"},
    ]


def test_a_person_from_the_business_speaks_as_assistant_marked_as_a_human(chat, reply, fake_llm):
    chat.said("customer", "Is the order ready?")
    chat.said("business", "Yes, you can pick it up today.")
    reply(chat.customer_says("Great, until what time?"))

    assert sent_messages(fake_llm)[1] == {
        "role": "assistant", "content": f"{HUMAN_PREFIX} Yes, you can pick it up today."}
    assert HUMAN_PREFIX in sent_system(fake_llm)


def test_the_burst_is_the_last_turn_with_every_message_of_it_in_order(chat, reply, fake_llm):
    chat.said("customer", "Hello")
    chat.said("bot", "Hi! How can I help?")
    token = chat.customer_says("I want a cake", "for saturday", "chocolate please")

    reply(token)

    assert sent_messages(fake_llm)[-1] == {"role": "user", "content": "I want a cake\nfor saturday\nchocolate please"}
    assert len(sent_messages(fake_llm)) == 3  # the burst appears once, not also as history


def test_consecutive_turns_of_one_role_are_merged_so_roles_alternate(chat, reply, fake_llm):
    chat.said("customer", "one", "two")
    chat.said("bot", "three")
    chat.said("business", "four")
    reply(chat.customer_says("five"))

    assert sent_messages(fake_llm) == [
        {"role": "user", "content": "one\ntwo"},
        {"role": "assistant", "content": f"three\n{HUMAN_PREFIX} four"},
        {"role": "user", "content": "five"},
    ]


def test_the_window_holds_history_messages_earlier_messages_plus_the_burst(
        chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"history_messages": 4})
    for n in range(1, 6):
        chat.said("customer", f"question {n}")
        chat.said("bot", f"answer {n}")
    reply(chat.customer_says("question 6"))

    assert sent_messages(fake_llm) == [
        {"role": "user", "content": "question 4"},
        {"role": "assistant", "content": "answer 4"},
        {"role": "user", "content": "question 5"},
        {"role": "assistant", "content": "answer 5"},
        {"role": "user", "content": "question 6"},
    ]


def test_a_window_that_would_start_with_the_bot_starts_with_the_customer(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"history_messages": 3})
    chat.said("customer", "q1")
    chat.said("bot", "a1")
    chat.said("customer", "q2")
    chat.said("bot", "a2")
    reply(chat.customer_says("q3"))

    assert [m["content"] for m in sent_messages(fake_llm)] == ["q2", "a2", "q3"]


def test_with_history_messages_zero_the_model_sees_only_the_burst(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"history_messages": 0})
    chat.said("customer", "old")
    chat.said("bot", "older answer")
    reply(chat.customer_says("new"))
    assert sent_messages(fake_llm) == [{"role": "user", "content": "new"}]


def test_deleted_messages_and_other_chats_stay_out_of_the_history(chat, tx, tenant, reply, fake_llm, db_conn):
    from .conftest import Chat

    other = Chat(tx, tenant["id"], chat_id="5511000000000@s.whatsapp.net")
    other.said("customer", "someone else's secret")
    chat.said("customer", "I said something silly")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE messages SET deleted_at = now() WHERE text = 'I said something silly'")
    reply(chat.customer_says("Hi"))
    assert sent_messages(fake_llm) == [{"role": "user", "content": "Hi"}]


def test_a_photo_without_a_caption_is_named_to_the_model(chat, reply, fake_llm):
    reply(chat.customer_says(None, message_type="imageMessage"))
    assert sent_messages(fake_llm) == [{"role": "user", "content": "[imageMessage without text]"}]


def test_the_system_prompt_fills_business_customer_and_time_in_the_tenants_zone(
        chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, business_name="Padaria Pão Quente", settings={"timezone": "America/Sao_Paulo"},
               system_prompt="Você atende a {business_name}. Cliente: {customer_name}. "
                             "Agora: {now}. Data {date}, hora {time}. JSON: {\"a\": 1} {unknown} {{business_name}}")
    zone = ZoneInfo("America/Sao_Paulo")
    before = datetime.now(timezone.utc).astimezone(zone)
    reply(chat.customer_says("Oi"))
    after = datetime.now(timezone.utc).astimezone(zone)

    system = sent_system(fake_llm)
    assert system.startswith("Você atende a Padaria Pão Quente. Cliente: Maria. Agora: ")
    assert any(f"Data {t:%Y-%m-%d}, hora {t:%H:%M}." in system for t in (before, after))
    assert any(f"{t:%A, %Y-%m-%d %H:%M} (America/Sao_Paulo)" in system for t in (before, after))
    assert 'JSON: {"a": 1} {unknown} Padaria Pão Quente' in system


def test_every_system_prompt_documents_the_handoff_marker_and_the_length(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, system_prompt="", settings={"max_reply_chars": 300})
    reply(chat.customer_says("Hi"))
    system = sent_system(fake_llm)
    assert system.startswith("You are the friendly WhatsApp assistant of Acme Store.")
    assert HANDOFF_MARKER in system
    assert "under 300 characters" in system
