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

from actscope.activations import get_activation, list_activations, parameterised_names
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
    salvage,
)
from actscope.serve.session import SessionLimitError, SessionManager, Settings
from actscope.serve.upload import MAX_BYTES, ROWS, parse_points
from actscope.serve.weights import weights_document

STATIC = Path(__file__).parent / "static"
HEARTBEAT_S = 10.0


def _options() -> dict:
    """What the page may choose from: the registered names, the limits and the defaults."""
    return {
        "activations": [{"name": n, "family": get_activation(n).family} for n in list_activations()],
        "datasets": playground_datasets(), "inits": all_init_schemes(), "optimizers": list(OPTIMIZERS),
        "limits": limits_for_page(), "defaults": PlaygroundConfig().model_dump(),
        "parameterised": sorted(parameterised_names()),
        "upload": {"max_bytes": MAX_BYTES, "min_rows": ROWS[0], "max_rows": ROWS[1]},
    }


async def _body(request: Request):
    """The request's JSON body, parsed with limits (400 when it is not acceptable JSON)."""
    try:
        return parse_json(await request.body())
    except BodyError as err:
        raise HTTPException(400, str(err)) from None


def _object(body) -> dict:
    if not isinstance(body, dict):
        raise HTTPException(422, f"the request body must be a JSON object, got {type(body).__name__}")
    return body


async def _parsed(request: Request, fn, *args):
    """``fn(*args)`` in a worker thread; one at a time over the server when the settings hold
    a typed activation (sympy parses and differentiates a formula, up to seconds of one core
    for a pathological one), so formulas never take more than one worker between them."""
    names = set(list_activations())
    body = args[0]
    if all(body.get(k, "sigmoid") in names for k in ("act_a", "act_b")):
        return await asyncio.to_thread(fn, *args)
    async with request.app.state.parse_gate:
        return await asyncio.to_thread(fn, *args)


async def _config_from(request: Request, upload: str | None = None) -> PlaygroundConfig:
    """The request's validated settings (422 with one line)."""
    body = _object(await _body(request))
    try:
        return await _parsed(request, parse_config, body, upload)
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
    app.state.parse_gate = asyncio.Semaphore(1)  # typed formulas are parsed one at a time
    app.add_middleware(Guard, access=access or Access())
    _add_error_handlers(app)
    _add_config_routes(app)
    _add_learner_routes(app, manager)  # before the actions: ".../points" is not an action
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
        return {"config": (await _config_from(request)).model_dump()}

    @app.post("/api/check")
    async def check(request: Request):
        """A link's settings: every error listed, every valid setting kept."""
        config, errors = await _parsed(request, salvage, _object(await _body(request)))
        return {"config": config, "errors": errors}

    @app.post("/api/export.toml")
    async def export_config(request: Request):
        return _toml_response(await _config_from(request))


def _add_session_routes(app: FastAPI, manager: SessionManager) -> None:
    """Sessions: create, read, reconfigure, play / pause / step / reset, delete, export."""

    def session_or_404(sid: str):
        return _session_or_404(manager, sid)

    @app.post("/api/sessions", status_code=201)
    async def create(request: Request):
        cfg = await _config_from(request)
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
        await s.configure(await _config_from(request, s.upload_name))
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
        s = session_or_404(sid)
        return _toml_response(s.cfg, s.upload_name)


def _add_learner_routes(app: FastAPI, manager: SessionManager) -> None:
    """A session's own points (CSV upload) and its trained weights as JSON."""

    def session_or_404(sid: str):
        return _session_or_404(manager, sid)

    @app.post("/api/sessions/{sid}/points")
    async def upload(sid: str, request: Request):
        """Uploaded 2-D points, ``{"name": "points.csv", "csv": "x1,x2,label\\n..."}``."""
        s = session_or_404(sid)
        body = _object(await _body(request))
        name, text = body.get("name", "points.csv"), body.get("csv")
        if not isinstance(text, str) or not isinstance(name, str):
            raise HTTPException(422, "the body is {\"name\": file name, \"csv\": the file's text}")
        try:
            points = await asyncio.to_thread(parse_points, name, text)
        except InputError as err:
            raise HTTPException(422, str(err)) from None
        await s.upload(points)
        return Response(s.payload, media_type="application/json")

    @app.get("/api/sessions/{sid}/weights.json")
    async def export_weights(sid: str):
        s = session_or_404(sid)
        async with s.lock:  # never halfway through a training slice
            doc = weights_document(s.trainer)
        name = s.cfg.to_experiment(upload=s.upload_name).name
        disposition = f'attachment; filename="{name}-weights.json"'
        return JSONResponse(doc, headers={"Content-Disposition": disposition})


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


def _toml_response(cfg: PlaygroundConfig, upload: str | None = None) -> PlainTextResponse:
    name = cfg.to_experiment(upload=upload).name
    return PlainTextResponse(export_toml(cfg, upload), media_type="application/toml",
                             headers={"Content-Disposition": f'attachment; filename="{name}.toml"'})
