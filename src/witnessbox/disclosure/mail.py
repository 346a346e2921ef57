"""Sending a share's link and its access code as two separate e-mails (stdlib smtplib).

Two messages, so that someone who reads one (a forwarded mail, a shared inbox) does not
hold both halves of the way in.
"""

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from witnessbox.core.errors import TemporaryFailure


@dataclass(frozen=True)
class Letter:
    """One message to one address."""

    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Sends letters; raises TemporaryFailure when the mail server cannot take them."""

    def send(self, letters: list[Letter]) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    """A mail server reached over SMTP, upgraded with STARTTLS and signed in to when configured."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 20.0

    def send(self, letters: list[Letter]) -> None:
        """Send each letter as its own message over one connection."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as server:
                if self.starttls:
                    server.starttls(context=ssl.create_default_context())
                if self.username:
                    server.login(self.username, self.password or "")
                for letter in letters:
                    server.send_message(self._message(letter))
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"the mail server at {self.host}:{self.port} refused: {error}") from error

    def _message(self, letter: Letter) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, letter.to, letter.subject
        message.set_content(letter.body)
        return message


def share_letters(
    to: str, *, recipient: str, sharer: str, link: str, code: str, expires: str
) -> list[Letter]:
    """The link in one message and the access code in another."""
    link_body = (
        f"Dear {recipient},\n\n{sharer} has shared police body-worn video with you.\n\n"
        f"Open this link to watch it (until {expires}):\n{link}\n\n"
        "You will be asked for an access code, which is sent to you in a separate message.\n"
        "Everything you open, play or download is recorded with your name.\n"
    )
    code_body = (
        f"Dear {recipient},\n\nYour access code for the video {sharer} shared with you is:\n\n"
        f"    {code}\n\nThe link comes in a separate message. Do not forward this code.\n"
    )
    return [
        Letter(to, "Body-worn video shared with you: your link", link_body),
        Letter(to, "Body-worn video shared with you: your access code", code_body),
    ]
