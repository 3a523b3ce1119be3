"""The README quick start: JSON from a dict, a typed query parameter and the request global.

Run it with ``flasgo run examples/app.py`` (or ``make run``), or as a script: ``python app.py``.
"""

from flasgo import Flasgo, Response, jsonify, request

app = Flasgo()


@app.get("/")
async def home() -> dict[str, str]:
    return {"framework": "flasgo", "status": "ok"}


@app.post("/notes/")
async def update_note(note_id: int) -> dict[str, int]:
    return {"updated": note_id}


@app.get("/inspect")
def inspect() -> Response:
    return jsonify({"method": request.method, "path": request.path})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
