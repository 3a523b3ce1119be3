"""A chat with a page per room: WebSockets, `app.channels` rooms, and Redis across workers.

Run it with ``flasgo run examples/chat/app.py`` and open http://127.0.0.1:8000/rooms/lobby in
two tabs. With ``FLASGO_REDIS_URL=redis://127.0.0.1:6379/0`` and one ``FLASGO_SECRET_KEY`` for
all of them, several workers (or several ``flasgo run`` processes on other ports) share the
rooms.
"""

from html import escape

from flasgo import Flasgo, Response, WebSocket, abort
from flasgo.response import HTMLResponse

app = Flasgo()

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>#{room}</title></head>
<body data-room="{room}" data-state="connecting">
<h1>#{room}</h1>
<ul id="log"></ul>
<form id="say"><input id="text" autocomplete="off" maxlength="500"><button>Send</button></form>
<script src="/chat.js"></script>
</body>
</html>
"""

# NOTE: served as a file of its own: the default Content-Security-Policy refuses inline code.
SCRIPT = """
const room = document.body.dataset.room;
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws/${encodeURIComponent(room)}`);
const log = document.getElementById("log");
window.chat = { send: (text) => socket.send(text) };
socket.addEventListener("message", (event) => {
  const message = JSON.parse(event.data);
  if (message.joined !== undefined) {
    document.body.dataset.state = "joined";
    return;
  }
  const item = document.createElement("li");
  item.textContent = message.text;  // text, never HTML
  log.append(item);
});
socket.addEventListener("close", () => { document.body.dataset.state = "closed"; });
document.getElementById("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  if (input.value) window.chat.send(input.value);
  input.value = "";
});
"""


def _valid(room: str) -> bool:
    return room.isascii() and room.isalnum() and len(room) <= 32


@app.get("/rooms/<room>")
async def page(room: str) -> HTMLResponse:
    if not _valid(room):
        abort(404)
    return HTMLResponse(PAGE.format(room=escape(room)))


@app.get("/chat.js")
async def script() -> Response:
    return Response(SCRIPT, content_type="text/javascript; charset=utf-8")


@app.websocket("/ws/<room>")
async def chat(websocket: WebSocket, room: str) -> None:
    if not _valid(room):
        await websocket.deny(404, "No such room.")
        return
    await websocket.accept()
    async with app.channels.subscribe(websocket, room):
        await websocket.send_json({"joined": room, "here": app.channels.presence(room)})
        async for text in websocket.iter_text():
            await app.channels.publish(room, {"room": room, "text": text[:500]})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
