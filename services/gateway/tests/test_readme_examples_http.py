"""The README's examples run as written: every `curl` of its ```sh blocks is parsed (method, URL,
headers, body) and sent, in order, to a gateway stack of its own (the examples change the admin's
password), with the placeholders a reader fills in (`<password>`, `<client id>`, `<stage id>` ...)
taken from the earlier answers, as a reader would; each must succeed. The budget section's error
field is the one the API names."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from .conftest import PASSWORD, Stack, stack_on_both_databases

README = Path(__file__).resolve().parents[3] / "README.md"
NEW_PASSWORD = "otra clave larga 456"
HOST = "http://127.0.0.1:8080"


# The stack on SQLite, then on PostgreSQL (conftest).
stack = stack_on_both_databases


def _commands() -> list[str]:
    """The shell commands of the README's sh blocks, a command's continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            stripped = line.strip()
            if stripped.startswith(("curl ", "TOKEN=$(curl ")):
                commands.append(stripped)
            elif commands and stripped and not stripped.startswith("#") and not stripped.startswith("./crm"):
                commands[-1] += "\n" + stripped  # a quoted body going on over lines
    return [c for c in commands if "--data-binary @" not in c]  # a file the reader has


def _request(command: str) -> tuple[str, str, dict[str, str], str | None]:
    """(method, path, headers, body) of one curl command as the README writes it."""
    if command.startswith("TOKEN=$("):
        command = command[len("TOKEN=$(") :].split(" | ", 1)[0]
    tokens = shlex.split(command, comments=True)
    assert tokens[0] == "curl", command
    method, url, headers, body = "", "", {}, None
    it = iter(tokens[1:])
    for token in it:
        if token == "-X":
            method = next(it)
        elif token == "-H":
            name, _, value = next(it).partition(":")
            headers[name.strip()] = value.strip()
        elif token in ("-d", "--data"):
            body = next(it)
        elif token.startswith(HOST):
            url = token
        else:
            assert token in ("-s",), f"the test does not know curl's {token!r}: {command}"
    assert url, command
    return method or ("POST" if body is not None else "GET"), url[len(HOST) :], headers, body


def _filled(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    missing = re.findall(r"<[a-z ]+>", text)
    assert not missing, f"no earlier answer gives {missing} in {text}"
    return text


def test_the_readme_curl_examples_run_as_written(stack: Stack) -> None:
    commands = _commands()
    assert len(commands) >= 10, commands
    values: dict[str, str] = {"<password>": PASSWORD, "<new password>": NEW_PASSWORD}
    token = ""
    for command in commands:
        method, path, headers, body = _request(command)
        path = _filled(path, values)
        headers = {k: _filled(v, values).replace("$TOKEN", token) for k, v in headers.items()}
        data = _filled(body, values) if body is not None else None
        res = stack.http.open(path, method=method, headers=headers, data=data)
        assert res.status_code < 400, (command, res.status_code, res.get_data(as_text=True)[:500])
        answer: Any = res.get_json(silent=True)
        if command.startswith("TOKEN="):
            token = answer["access_token"]
        elif method == "POST" and path == "/api/v1/clients":
            values["<client id>"] = answer["id"]
        elif method == "POST" and path == "/api/v1/products":
            values["<product id>"] = answer["id"]
        elif method == "POST" and path == "/api/v1/deals":
            values["<deal id>"] = answer["id"]
        elif path == "/api/v1/pipelines":
            default = next(p for p in answer["items"] if p.get("is_default")) if answer["items"] else None
            assert default is not None, answer
            values["<stage id>"] = default["stages"][1]["id"]  # the next stage after the first
    # What the examples did: the deal was moved, won, reopened and lost, in that order.
    deal = stack.http.get(f"/api/v1/deals/{values['<deal id>']}", headers={"Authorization": f"Bearer {token}"})
    assert deal.get_json()["status"] == "lost"
    assert [i["product_id"] for i in deal.get_json()["line_items"]] == [values["<product id>"]]


def test_the_budget_error_field_is_the_one_the_readme_names(stack: Stack) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Budgets") :]
    named = re.search(r"refused \(400 naming `([^`]+)`\)", section)
    assert named is not None, "the README no longer names the budget's amount field"
    login = stack.login("ana@example.com")
    assert login.status_code == 200
    res = stack.http.post(
        "/api/v1/budgets",
        json={
            "user_id": stack.id("ana"),
            "period_kind": "quarter",
            "period_start": "2026-04-01",
            "target": {"amount": "25000.001", "currency_code": "USD"},
        },
        headers=stack.auth("marta"),
    )
    assert res.status_code == 400, res.get_json()
    assert [e["field"] for e in res.get_json()["errors"]] == [named.group(1)]
