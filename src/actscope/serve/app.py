"""The playground's HTTP routes (FastAPI): sessions, actions, server-sent events, export.

The routes are thin: the safety rules every request passes live in guards.py, bodies are
parsed with limits in body.py, validation lives in schema.py, state and training in
session.py, what is drawn in views.py and static/. The API docs (``/docs``, which load
scripts from a CDN) are off.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from actscope.activations import get_activation, list_activations
from actscope.errors import InputError
from actscope.nn import all_init_schemes
from actscope.serve.body import BodyError, parse_json
from actscope.serve.guards import Access, Guard
from actscope.serve.schema import (
    OPTIMIZERS,
    PlaygroundConfig,
    export_toml,
    format_errors,
    limits_for_page,
    parse_config,
    playground_datasets,
)
from actscope.serve.session import SessionLimitError, SessionManager, Settings

STATIC = Path(__file__).parent / "static"
HEARTBEAT_S = 10.0


def _options() -> dict:
    """What the page may choose from: the registered names, the limits and the defaults."""
    return {
        "activations": [{"name": n, "family": get_activation(n).family} for n in list_activations()],
        "datasets": playground_datasets(), "inits": all_init_schemes(), "optimizers": list(OPTIMIZERS),
        "limits": limits_for_page(), "defaults": PlaygroundConfig().model_dump(),
    }


async def _body(request: Request):
    """The request's JSON body, parsed with limits (400 when it is not acceptable JSON)."""
    try:
        return parse_json(await request.body())
    except BodyError as err:
        raise HTTPException(400, str(err)) from None


def _config_from(body) -> PlaygroundConfig:
    if not isinstance(body, dict):
        raise HTTPException(422, f"the request body must be a JSON object, got {type(body).__name__}")
    try:
        return parse_config(body)
    except InputError as err:
        raise HTTPException(422, str(err)) from None


def create_app(settings: Settings | None = None, access: Access | None = None) -> FastAPI:
    """The playground application; ``settings`` sets the server-wide limits, ``access`` who
    may reach it (default: loopback Host names, no token)."""
    manager = SessionManager(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async def sweeper():
            while True:
                await asyncio.sleep(manager.settings.sweep_every_s)
                manager.sweep()

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            manager.close_all()

    app = FastAPI(title="actscope playground", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.manager = manager
    app.add_middleware(Guard, access=access or Access())
    _add_error_handlers(app)
    _add_config_routes(app)
    _add_session_routes(app, manager)
    _add_event_stream(app, manager)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Malformed requests become one-line messages."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":
            ctx = errors[0].get("ctx", {}).get("error", "")
            return JSONResponse({"detail": f"malformed JSON in the request body: {ctx}".rstrip(": ")},
                                status_code=400)
        return JSONResponse({"detail": format_errors(errors)}, status_code=422)


def _add_config_routes(app: FastAPI) -> None:
    """The page, the options it offers, and configs checked or exported without a session."""

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/api/options")
    async def options():
        return _options()

    @app.post("/api/validate")
    async def validate(request: Request):
        return {"config": _config_from(await _body(request)).model_dump()}

    @app.post("/api/export.toml")
    async def export_config(request: Request):
        return _toml_response(_config_from(await _body(request)))


def _add_session_routes(app: FastAPI, manager: SessionManager) -> None:
    """Sessions: create, read, reconfigure, play / pause / step / reset, delete, export."""

    def session_or_404(sid: str):
        return _session_or_404(manager, sid)

    @app.post("/api/sessions", status_code=201)
    async def create(request: Request):
        cfg = _config_from(await _body(request))
        try:
            s = await manager.create(cfg, request.client.host if request.client else "")
        except SessionLimitError as err:
            raise HTTPException(429, str(err)) from None
        return Response(s.payload, media_type="application/json", status_code=201)

    @app.get("/api/sessions/{sid}")
    async def current(sid: str):
        return Response(session_or_404(sid).payload, media_type="application/json")

    @app.put("/api/sessions/{sid}/config")
    async def configure(sid: str, request: Request):
        s = session_or_404(sid)
        await s.configure(_config_from(await _body(request)))
        return Response(s.payload, media_type="application/json")

    @app.post("/api/sessions/{sid}/heartbeat")
    async def heartbeat(sid: str):
        session_or_404(sid)  # finding it renews it
        return {"session": sid, "ttl_s": manager.settings.ttl_s}

    @app.post("/api/sessions/{sid}/{action}")
    async def act(sid: str, action: Literal["play", "pause", "step", "reset"]):
        s = session_or_404(sid)
        await getattr(s, action)()
        return Response(s.payload, media_type="application/json")

    @app.delete("/api/sessions/{sid}")
    async def delete(sid: str):
        if not manager.drop(sid):
            raise HTTPException(404, f"session {sid[:40]!r} not found")
        return {"deleted": sid}

    @app.get("/api/sessions/{sid}/config.toml")
    async def export_session(sid: str):
        return _toml_response(session_or_404(sid).cfg)


def _add_event_stream(app: FastAPI, manager: SessionManager) -> None:
    """Server-sent events: a session's state whenever it changes, heartbeats in between.

    Streaming does not renew the session: only the user's requests and the page's heartbeat do."""

    @app.get("/api/sessions/{sid}/events")
    async def events(sid: str, request: Request):
        s = _session_or_404(manager, sid)

        async def stream():
            version = -1
            while not await request.is_disconnected():
                if s.closed:  # expired or deleted
                    yield "event: gone\ndata: {}\n\n"
                    return
                if await s.wait_newer(version, HEARTBEAT_S):
                    if s.closed:
                        continue
                    version = s.version
                    yield f"id: {version}\ndata: {s.payload}\n\n"
                else:
                    yield ": heartbeat\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _session_or_404(manager: SessionManager, sid: str):
    s = manager.get(sid)
    if s is None:
        raise HTTPException(404, f"session {sid[:40]!r} not found (expired or never created)")
    return s


def _toml_response(cfg: PlaygroundConfig) -> PlainTextResponse:
    name = cfg.to_experiment().name
    return PlainTextResponse(export_toml(cfg), media_type="application/toml",
                             headers={"Content-Disposition": f'attachment; filename="{name}.toml"'})
