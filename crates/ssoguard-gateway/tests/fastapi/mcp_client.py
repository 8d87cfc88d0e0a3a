"""The official MCP Python SDK (`mcp` on PyPI, pinned in requirements.txt) as a client of an
MCP server that wants a bearer token: tasks-api's `/mcp` (crates/tasks-api/tests/mcp_clients.rs)
or a server behind the gateway (fastmcp_server.py).

    python mcp_client.py <url> <token> [<tool> <json arguments>]...

The SDK's own streamable-HTTP client, its HTTP client made by the SDK's `create_mcp_http_client`
with `Authorization: Bearer <token>`. It connects (`mode="auto"`: the SDK probes
`server/discover`, then falls back to the `initialize` handshake), lists the tools and calls
each `<tool>` in order; without any, `create_task {"title": "from the MCP Python SDK"}` then
`list_tasks {}`.

stdout: one JSON line: `protocol_version`, `tools`, `calls` (each `{"tool", "arguments",
"result"}` or `{"tool", "arguments", "error"}`, a result being `{"is_error", "text",
"structured"}`), and `http` (every response: method, URL, status, `WWW-Authenticate`). The
SDK turns an HTTP refusal into a JSON-RPC error without the status, so `refused` names the
first 401 or 403 (status and challenge) from `http` (the `auto` probe's 400 from a server that
predates `server/discover` is no refusal). Exit status: 0 when everything
passed, 1 when the server refused (or a call failed), 2 on bad usage.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def result_json(result: Any) -> dict[str, Any]:
    """A `CallToolResult` as plain JSON."""
    return {
        "is_error": bool(result.is_error),
        "text": [c.text for c in result.content if getattr(c, "type", None) == "text"],
        "structured": result.structured_content,
    }


async def run(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    http: list[dict[str, Any]] = []

    async def record(response: Any) -> None:
        entry = {
            "method": response.request.method,
            "url": str(response.request.url),
            "status": response.status_code,
        }
        challenge = response.headers.get("www-authenticate")
        if challenge:
            entry["www_authenticate"] = challenge
        http.append(entry)

    report: dict[str, Any] = {"http": http, "calls": []}
    http_client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    http_client.event_hooks = {"request": [], "response": [record]}
    try:
        async with http_client:
            transport = streamable_http_client(url, http_client=http_client)
            async with Client(transport, mode="auto", cache=None) as client:
                report["protocol_version"] = client.session.protocol_version
                report["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
                for name, arguments in calls:
                    entry: dict[str, Any] = {"tool": name, "arguments": arguments}
                    try:
                        entry["result"] = result_json(await client.call_tool(name, arguments))
                    except Exception as error:  # noqa: BLE001 - reported, not hidden
                        entry["error"] = f"{type(error).__name__}: {error}"
                    report["calls"].append(entry)
    except Exception as error:  # noqa: BLE001 - reported, not hidden
        # anyio wraps a refused handshake in an exception group: name what is inside.
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        report["error"] = f"{type(error).__name__}: {error}"
    refusals = [e for e in http if e["status"] in (401, 403)]
    if refusals:
        report["refused"] = refusals[0]
    return report


def main(argv: list[str]) -> int:
    if len(argv) < 3 or len(argv) % 2 == 0:
        print(__doc__, file=sys.stderr)
        return 2
    url, token = argv[1], argv[2]
    calls = [(argv[i], json.loads(argv[i + 1])) for i in range(3, len(argv), 2)]
    if not calls:
        calls = [("create_task", {"title": "from the MCP Python SDK"}), ("list_tasks", {})]
    report = anyio.run(run, url, token, calls)
    print(json.dumps(report), flush=True)
    failed = "error" in report or "refused" in report or any(
        "error" in c or c["result"]["is_error"] for c in report["calls"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
