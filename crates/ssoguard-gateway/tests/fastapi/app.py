"""The reference tasks API (a FastAPI app), with its python-jose code replaced by the gateway's identity headers.

Behind ssoguard-gateway (nginx auth_request, Caddy forward_auth, or the gateway's own reverse
proxy) this app verifies nothing itself: it trusts X-Auth-Request-* because only the gateway can
set them (the proxy in front strips or overwrites what a client sends). It must listen on a
loopback or private address that clients cannot reach directly.

Run: uvicorn app:app --host 127.0.0.1 --port 9000
"""

import hashlib
from itertools import count
from typing import Optional

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI(title="tasks API behind ssoguard-gateway")

_tasks: dict[int, dict] = {}
_ids = count(1)


async def get_current_user(request: Request) -> dict:
    """The user the gateway verified (replaces the reference FastAPI app's python-jose get_current_user).

    `async def` like the reference app's handlers: a plain `def` would run in FastAPI's thread pool on
    every request, a cost the reference app does not pay (bench/gateway.sh compares the two apps).
    """
    user_id = request.headers.get("x-auth-request-user")
    if not user_id:
        # Defence in depth: a request that bypassed the gateway has no identity.
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    roles = request.headers.get("x-auth-request-roles", "")
    return {
        "id": user_id,
        "email": request.headers.get("x-auth-request-email"),
        "roles": [r for r in roles.split(",") if r],
        "issuer": request.headers.get("x-auth-request-issuer"),
    }


def require_role(required_role: str):
    """The reference app's require_role, on the roles header (Better Auth's "user,admin" is split)."""

    async def role_checker(current_user: dict = Depends(get_current_user)) -> dict:
        if required_role not in current_user["roles"]:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"Role '{required_role}' required",
            )
        return current_user

    return role_checker


class TaskIn(BaseModel):
    title: str
    completed: bool = False


def identity_headers(request: Request) -> dict:
    """What reached the app: the tests check that spoofed and secret headers did not."""
    return {
        k: v
        for k, v in request.headers.items()
        if k.startswith("x-auth-request-") or k.startswith("x-forwarded-") or k == "authorization"
    }


@app.get("/api/public/ping")
async def ping(request: Request) -> dict:
    return {"pong": True, "headers": identity_headers(request)}


@app.get("/api/me")
async def me(request: Request, user: dict = Depends(get_current_user)) -> dict:
    return {**user, "headers": identity_headers(request)}


@app.get("/api/tasks")
async def list_tasks(user: dict = Depends(get_current_user)) -> list[dict]:
    return [t for t in _tasks.values() if t["owner"] == user["id"]]


@app.post("/api/tasks", status_code=201)
async def create_task(task: TaskIn, user: dict = Depends(get_current_user)) -> dict:
    task_id = next(_ids)
    _tasks[task_id] = {"id": task_id, "owner": user["id"], **task.model_dump()}
    return _tasks[task_id]


@app.delete("/api/admin/users/{user_id}")
async def delete_user(user_id: str, admin: dict = Depends(require_role("admin"))) -> dict:
    return {"deleted": user_id, "by": admin["id"]}


@app.post("/api/upload")
async def upload(request: Request, user: dict = Depends(get_current_user)) -> dict:
    """Reads the body as a stream: size and SHA-256, never the whole body in memory."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        digest.update(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


@app.get("/api/download")
async def download(mb: int = 1, user: dict = Depends(get_current_user)) -> StreamingResponse:
    """`mb` MiB of a repeating pattern, streamed in 64 KiB chunks."""
    chunk = bytes(range(256)) * 256

    def body():
        for _ in range(mb * 16):
            yield chunk

    return StreamingResponse(body(), media_type="application/octet-stream")


@app.get("/api/slow")
async def slow(seconds: float = 5.0, user: dict = Depends(get_current_user)) -> dict:
    import asyncio

    await asyncio.sleep(seconds)
    return {"slept": seconds}


@app.websocket("/ws/echo")
async def echo(websocket: WebSocket) -> None:
    user: Optional[str] = websocket.headers.get("x-auth-request-user")
    if not user:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    while True:
        try:
            text = await websocket.receive_text()
        except Exception:
            return
        await websocket.send_text(f"{user}: {text}")


@app.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
)
async def echo_any(request: Request, rest: str) -> dict:
    """Any other request: what reached the app (method, raw target, every header). The tests of
    the gateway's walk-around classes check that nothing the rules refuse gets here, and which
    client headers arrive."""
    return {
        "reached": True,
        "method": request.method,
        "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
        "query": request.scope.get("query_string", b"").decode("latin-1"),
        "headers": [[k, v] for k, v in request.headers.items()],
    }
