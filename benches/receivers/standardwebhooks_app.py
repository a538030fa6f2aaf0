"""Reference receiver for benches/listen-load.sh: a bare ASGI app on uvicorn (httptools, uvloop)
verifying each delivery with the official `standardwebhooks` library (signature and timestamp,
then JSON parsing), answering 200 or 401. No framework, no logging: the cheapest honest receiver
Python offers. The secret comes from $SFHOOKS_LOAD_SECRET."""
import os

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["SFHOOKS_LOAD_SECRET"])


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    try:
        webhook.verify(body, headers)
        status, text = 200, b"ok\n"
    except WebhookVerificationError:
        status, text = 401, b"invalid\n"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})
