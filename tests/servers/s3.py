"""A real S3-compatible server on 127.0.0.1: moto's standalone server (``moto[server]``), reached over
HTTP by boto3 (ours and pywb's) like any object store; an implementation we did not write."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

REGION = "us-east-1"
KEY_ID, SECRET = "test-key-id", "test-secret-key"


@dataclass
class S3Server:
    endpoint: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storage(self, bucket: str, prefix: str = "archive", **extra) -> dict:
        """A config's ``storage:`` keys (less root) for this server."""
        return {"url": f"s3://{bucket}/{prefix}",
                "s3": {"endpoint_url": self.endpoint, "region": REGION, "access_key_id": KEY_ID,
                       "secret_access_key": SECRET, **extra.pop("s3", {})}, **extra}


def start():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, S3Server(f"http://{host}:{port}")
