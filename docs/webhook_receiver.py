"""A tiny webhook receiver for trying the API: prints every delivery it gets and answers 200.

    python3 docs/webhook_receiver.py [PORT]                       # default 9000, on 127.0.0.1
    WEBHOOK_SECRET=whsec_… python3 docs/webhook_receiver.py       # also checks each delivery's signature

Standard library only. With WEBHOOK_SECRET (the `secret` the API answers when the webhook is registered)
it checks the Standard Webhooks signature: `webhook-signature` holds "v1,<base64 HMAC-SHA256 of
'<webhook-id>.<webhook-timestamp>.<body>'>" keyed with the secret's base64 part. Not for production: it
keeps nothing, and does not drop repeated event ids or old timestamps as a real receiver should.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "")


def signature_check(headers, body):
    """'valid', 'INVALID' or why it was not checked."""
    if not SECRET:
        return "not checked (no WEBHOOK_SECRET)"
    try:
        key = base64.b64decode(SECRET.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return "not checked (WEBHOOK_SECRET is not base64 after whsec_)"
    signed = f"{headers.get('webhook-id', '')}.{headers.get('webhook-timestamp', '')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[-1] for part in headers.get("webhook-signature", "").split()]
    return "valid" if any(hmac.compare_digest(expected, each) for each in offered) else "INVALID"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = json.loads(body)
        except ValueError:
            event = body.decode(errors="replace")
        print(f"--- {self.command} {self.path}", flush=True)
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            if name in self.headers:
                print(f"{name}: {self.headers[name]}")
        print(f"signature: {signature_check(self.headers, body)}")
        print(json.dumps(event, indent=2) if not isinstance(event, str) else event, flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass  # the delivery printed above says it all


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"Listening on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
    HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
