"""The seed's own FastAPI verification (python-jose, RS256, JWKS cached one hour), unchanged in
substance, for the gateway benchmark's baseline (bench/gateway.sh). Not used by the tests.

Run: JWKS_URL=... SSO_CLIENT_ID=... uvicorn seed_app:app --port 18101
"""

import os
import time
from typing import Optional

import httpx
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import JWTError, jwt

app = FastAPI(title="seed tasks API (python-jose)")
security = HTTPBearer()

JWKS_URL = os.environ["JWKS_URL"]
SSO_CLIENT_ID = os.getenv("SSO_CLIENT_ID")
JWKS_CACHE_TTL = 3600

_jwks_cache: Optional[dict] = None
_jwks_cache_time: float = 0


async def get_jwks() -> dict:
    global _jwks_cache, _jwks_cache_time
    now = time.time()
    if _jwks_cache and (now - _jwks_cache_time) < JWKS_CACHE_TTL:
        return _jwks_cache
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(JWKS_URL)
            response.raise_for_status()
            _jwks_cache = response.json()
            _jwks_cache_time = now
            return _jwks_cache
    except httpx.HTTPError as e:
        if _jwks_cache:
            return _jwks_cache
        raise HTTPException(status_code=503, detail=f"Cannot fetch JWKS: {e}")


def find_key_by_kid(jwks: dict, kid: str) -> Optional[dict]:
    for key in jwks.get("keys", []):
        if key.get("kid") == kid:
            return key
    return None


async def verify_token(token: str) -> dict:
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        if not kid:
            raise credentials_exception
        jwks = await get_jwks()
        rsa_key = find_key_by_kid(jwks, kid)
        if not rsa_key:
            raise credentials_exception
        return jwt.decode(
            token,
            rsa_key,
            algorithms=["RS256"],
            audience=SSO_CLIENT_ID,
            options={"verify_aud": bool(SSO_CLIENT_ID), "verify_iss": False},
        )
    except JWTError as e:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"Invalid token: {e}",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def get_current_user(
    credentials: HTTPAuthorizationCredentials = Depends(security),
) -> dict:
    payload = await verify_token(credentials.credentials)
    return {
        "id": payload.get("sub"),
        "email": payload.get("email"),
        "name": payload.get("name"),
        "role": payload.get("role", "user"),
        "email_verified": payload.get("email_verified", False),
    }


@app.get("/api/me")
async def me(user: dict = Depends(get_current_user)) -> dict:
    return user
