"""A small SMTP server on 127.0.0.1 that keeps every message it is given, for tests that send real mail.

It speaks enough SMTP for Django's SMTP backend (smtplib): EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and
QUIT, without TLS or authentication. A message is stored before its DATA is answered, so once the
app's send returns, the message is in ``messages``.

    with SMTPServer() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", smtp.port, False
        ...  # the app sends
        (received,) = smtp.messages
        received.recipients, received.message["Subject"], received.text
"""

from __future__ import annotations

import dataclasses
import email
import email.message
import email.policy
import re
import socketserver
import threading

MAX_LINE = 4096  # longer than SMTP's 1000, so a long header line from a client is still read whole
MAX_MESSAGE = 10 * 1024 * 1024


@dataclasses.dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def text(self) -> str:
        """The plain-text body (the text/plain part of a multipart message)."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


_ADDRESS = re.compile(r"^(?:FROM|TO):\s*<([^>]*)>", re.IGNORECASE)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, line: str):
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def read_line(self) -> bytes | None:
        line = self.rfile.readline(MAX_LINE)
        return line if line else None

    def handle(self):
        server: SMTPServer = self.server.smtp
        self.reply("220 127.0.0.1 test SMTP server ready")
        mail_from, recipients = None, []
        while (line := self.read_line()) is not None:
            command, _, argument = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = command.upper()
            if verb == "EHLO":
                self.wfile.write(b"250-127.0.0.1\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n")
                self.reply(f"250 SIZE {MAX_MESSAGE}")
            elif verb == "HELO":
                self.reply("250 127.0.0.1")
            elif verb == "MAIL":
                match = _ADDRESS.match(argument)
                if not match:
                    self.reply("501 Syntax: MAIL FROM:<address>")
                    continue
                mail_from, recipients = match.group(1), []
                self.reply("250 OK")
            elif verb == "RCPT":
                match = _ADDRESS.match(argument)
                if mail_from is None:
                    self.reply("503 MAIL first")
                elif not match or not match.group(1):
                    self.reply("501 Syntax: RCPT TO:<address>")
                else:
                    recipients.append(match.group(1))
                    self.reply("250 OK")
            elif verb == "DATA":
                if mail_from is None or not recipients:
                    self.reply("503 MAIL and RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                if data is None:
                    return
                message = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
                server._keep(Received(mail_from, recipients, message))
                mail_from, recipients = None, []
                self.reply("250 OK: queued")
            elif verb == "RSET":
                mail_from, recipients = None, []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def read_data(self) -> bytes | None:
        lines, size = [], 0
        while (line := self.read_line()) is not None:
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            if line.startswith(b"."):
                line = line[1:]  # dot-stuffing (RFC 5321, section 4.5.2)
            size += len(line)
            if size > MAX_MESSAGE:
                self.reply("552 Message too big")
                return None
            lines.append(line)
        return None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SMTPServer:
    def __init__(self):
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "SMTPServer":
        if self._server is None:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.smtp = self
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, name="smtp-server", daemon=True)
            self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> "SMTPServer":
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the SMTP server is not running; call start() first")
        return self._server.server_address[1]

    @property
    def messages(self) -> list[Received]:
        """The messages received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def clear(self):
        with self._lock:
            self._messages.clear()

    def _keep(self, received: Received):
        with self._lock:
            self._messages.append(received)
