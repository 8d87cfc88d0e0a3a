"""A third-party MCP server behind ssoguard-gateway: the official Python SDK's high-level server
(`mcp` on PyPI, pinned in requirements.txt; `FastMCP` in mcp 1.x, renamed `MCPServer` in 2.x),
streamable HTTP at `/mcp`, with no authentication of its own.

    python fastmcp_server.py <port>

Like app.py it verifies nothing: it trusts `X-Auth-Request-User` because only the gateway in
front can set it, so it must listen where clients cannot reach it directly (127.0.0.1). Tools:

- `echo {text}`: `text`, unchanged.
- `whoami {}`: the identity headers of the request that carried the call
  (`X-Auth-Request-User`, `-Email`, `-Roles`, `-Issuer`), `null` where absent.

Prints `READY http://127.0.0.1:<port>/mcp` on stdout once it listens.
"""

from __future__ import annotations

import sys

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("ssoguard-gateway test server")

IDENTITY_HEADERS = ("x-auth-request-user", "x-auth-request-email", "x-auth-request-roles", "x-auth-request-issuer")


@server.tool()
def echo(text: str) -> str:
    """Returns `text` unchanged."""
    return text


@server.tool()
def whoami(ctx: Context) -> dict[str, str | None]:
    """The identity headers the gateway added to this call's HTTP request."""
    headers = ctx.headers or {}
    return {name: headers.get(name) for name in IDENTITY_HEADERS}


async def serve(port: int) -> None:
    config = uvicorn.Config(
        server.streamable_http_app(host="127.0.0.1"),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    web = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve)
        while not web.started:
            await anyio.sleep(0.05)
        print(f"READY http://127.0.0.1:{port}/mcp", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    anyio.run(serve, int(sys.argv[1]))
