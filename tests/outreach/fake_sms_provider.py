"""A fake of Twilio's Messages API on 127.0.0.1, for tests that send real HTTP.

POST /2010-04-01/Accounts/<sid>/Messages.json with Basic auth and form fields From, To, Body is
answered 201 with a `sid`, like Twilio. A request carrying an Idempotency-Key the provider has seen
is answered with the first message's sid and not delivered again. `fail_next(*answers)` makes the
next requests answer differently: a status code (500, 400…), "drop" (the text is taken, then the
connection closes without an answer: a lost reply) or "hang" (no answer until the client gives up).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass
class Text:
    sid: str
    to: str
    sender: str
    body: str
    idempotency_key: str


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        provider: FakeSmsProvider = self.server.provider
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        expected = "Basic " + base64.b64encode(f"{provider.account_sid}:{provider.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != expected or not self.path.endswith(f"/Accounts/{provider.account_sid}/Messages.json"):
            return self._answer(401, {"message": "Authenticate"})
        answer = provider._next_answer()
        if isinstance(answer, int):
            return self._answer(answer, {"message": f"fake provider answers {answer}"})
        text = provider._take(form, self.headers.get("Idempotency-Key", ""))
        if answer == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if answer == "hang":
            provider._release.wait(5)
            return None
        return self._answer(201, {"sid": text.sid, "status": "queued", "to": text.to})

    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeSmsProvider:
    def __init__(self, *, account_sid="AC-test", auth_token="token"):
        self.account_sid, self.auth_token = account_sid, auth_token
        self._lock = threading.Lock()
        self._texts: list[Text] = []
        self._by_key: dict[str, Text] = {}
        self._answers: list = []
        self._release = threading.Event()
        self.requests = 0
        self._server = None

    def start(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.provider = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def texts(self) -> list[Text]:
        """The texts delivered to phones, oldest first: one per idempotency key."""
        with self._lock:
            return list(self._texts)

    def fail_next(self, *answers):
        with self._lock:
            self._answers.extend(answers)

    def _next_answer(self):
        with self._lock:
            self.requests += 1
            return self._answers.pop(0) if self._answers else "ok"

    def _take(self, form, key):
        with self._lock:
            if key and key in self._by_key:
                return self._by_key[key]
            text = Text(sid=f"SM{len(self._texts) + 1:032d}", to=form.get("To", ""), sender=form.get("From", ""),
                        body=form.get("Body", ""), idempotency_key=key)
            self._texts.append(text)
            if key:
                self._by_key[key] = text
            return text
