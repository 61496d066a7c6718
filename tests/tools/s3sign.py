#!/usr/bin/python3
"""s3sign.py — the reference SigV4 signature of one S3 request, by botocore.

usage: s3sign.py METHOD URL REGION KEY SECRET TOKEN AMZDATE BODYFILE [NAME:VALUE ...]
Prints the Authorization header botocore's S3 signer computes for that
request at that time (AMZDATE is YYYYMMDDTHHMMSSZ; TOKEN may be "-").
The headers given are the ones the signer must sign besides host,
x-amz-date and x-amz-security-token, which it adds itself."""
import datetime
import sys
from unittest import mock

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

method, url, region, key, secret, token, amzdate, bodyfile = sys.argv[1:9]
headers = dict(h.split(":", 1) for h in sys.argv[9:])
body = open(bodyfile, "rb").read() if bodyfile != "-" else b""
req = AWSRequest(method=method, url=url, headers=headers, data=body)
when = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ")
with mock.patch("botocore.auth.datetime") as dt:
    dt.datetime.utcnow.return_value = when
    dt.datetime.now.return_value = when
    S3SigV4Auth(Credentials(key, secret, None if token == "-" else token), "s3", region).add_auth(req)
print(req.headers["Authorization"])
