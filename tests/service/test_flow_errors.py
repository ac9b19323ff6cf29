"""The errors flow records a failed n8n execution; a failure that names a
reply marks that reply failed, so nothing waits silently."""
import pytest

from python_services.collision.app import create_app


@pytest.fixture
def client(service_config):
    return create_app(service_config).test_client()


def _token(db_conn, tenant):
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO sessions (tenant_id, chat_id) VALUES (%s, '5511911112222@s.whatsapp.net') RETURNING *",
                    (tenant["id"],))
        session = cur.fetchone()
        cur.execute("INSERT INTO reply_tokens (tenant_id, session_id, chat_id, deadline_at)"
                    " VALUES (%s, %s, %s, now() + interval '1 minute') RETURNING id",
                    (tenant["id"], session["id"], session["chat_id"]))
        return cur.fetchone()["id"]


def test_a_flow_failure_naming_a_reply_marks_that_reply_failed(client, service_headers, db_conn, make_tenant):
    token = _token(db_conn, make_tenant())
    resp = client.post("/flows/errors", headers=service_headers, json={
        "workflow_id": "hfInboundFlow001", "workflow_name": "HybridFlow inbound", "execution_id": "42",
        "node": "Write the reply (LLM)", "message": f"The service refused the connection for {token}"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["reply_token"] == str(token)
    with db_conn.cursor() as cur:
        cur.execute("SELECT state, error FROM reply_tokens WHERE id = %s", (token,))
        row = cur.fetchone()
        cur.execute("SELECT workflow_id, node, reply_token_id FROM flow_errors")
        recorded = cur.fetchall()
    assert row["state"] == "failed"
    assert "HybridFlow inbound" in row["error"]
    assert recorded == [{"workflow_id": "hfInboundFlow001", "node": "Write the reply (LLM)", "reply_token_id": token}]


def test_a_flow_failure_without_a_reply_is_still_recorded(client, service_headers, db_conn):
    resp = client.post("/flows/errors", headers=service_headers, json={
        "workflow_id": "hfAutoResume0001", "message": "ECONNREFUSED 127.0.0.1:8001"})
    assert resp.status_code == 201
    assert resp.get_json()["reply_token"] is None
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM flow_errors")
        assert cur.fetchone()["n"] == 1


@pytest.mark.parametrize("body, field", [
    ({"message": "x"}, "workflow_id"),
    ({"workflow_id": "w"}, "message"),
    ({"workflow_id": "w", "message": ["not", "text"]}, "message"),
])
def test_a_malformed_failure_report_is_refused_naming_the_field(client, service_headers, db_conn, body, field):
    resp = client.post("/flows/errors", headers=service_headers, json=body)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM flow_errors")
        assert cur.fetchone()["n"] == 0
