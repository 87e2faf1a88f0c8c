#!/usr/bin/env python3
"""Points the official STS SDKs of Tencent Cloud and Alibaba Cloud at the simulator and checks
that the simulator's STS speaks their wire format.

- Tencent (tencentcloud-sdk-python-sts + -common): `StsClient.AssumeRole` (TC3, service `sts`),
  again with the temporary credentials it gave (`X-TC-Token`), and `AssumeRoleWithWebIdentity`
  sent unsigned (`Authorization: SKIP`) through `CommonClient.call_json(...,
  options={'SkipSign': True})` as the SDK's `OIDCRoleArnCredential` does; then the SDK's own
  credential providers `STSAssumeRoleCredential` and `OIDCRoleArnCredential`.
- Alibaba (alibabacloud-sts20150401): `Client.assume_role` (ACS3-HMAC-SHA256), again with the
  STS token it gave (`x-acs-security-token`).

For each: the answer read into the SDK's models, and strictly (no field the model lacks, the
model's JSON types), the expiry in the documented format and in the future; and refusals (an
unknown role, an untrusted caller, a duration out of range, a bad session name, a wrong token
or key) raise the SDK's exception with the documented code.

Usage: sts.py HOST:PORT   (the line `cargo run -p cloud-task-simulator --example serve`
prints). The accounts, roles and web identity are the SIM_* variables the example reads, or
its defaults. Exits non-zero if any check fails.
"""

import calendar
import json
import os
import sys
import time
import warnings

import tencentcloud.common.credential as tc_credential
from alibabacloud_sts20150401 import models as ali_models
from alibabacloud_sts20150401.client import Client as AliStsClient
from alibabacloud_tea_openapi import utils_models as ali_openapi
from alibabacloud_tea_openapi.exceptions import ClientException as AliClientException
from darabonba.core import DaraCore
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sts.v20180813 import models as tc_models
from tencentcloud.sts.v20180813.sts_client import StsClient

TC_ID = os.environ.get("SIM_TENCENT_SECRET_ID", "AKIDSIMTENCENT0000000001")
TC_KEY = os.environ.get("SIM_TENCENT_SECRET_KEY", "sim-tencent-secret-key")
TC_ROLE = os.environ.get("SIM_TENCENT_ROLE_ARN", "qcs::cam::uin/100000000001:roleName/sim-exporter")
TC_PROVIDER = os.environ.get("SIM_TENCENT_PROVIDER_ID", "sim-oidc-provider")
TC_WEB_TOKEN = os.environ.get("SIM_TENCENT_WEB_IDENTITY_TOKEN", "sim-web-identity-token")
TC_OPEN_ROLE = "qcs::cam::uin/100000000001:roleName/sim-open"
ALI_ID = os.environ.get("SIM_ALIBABA_AK_ID", "LTAISIMALIBABA00000001")
ALI_SECRET = os.environ.get("SIM_ALIBABA_AK_SECRET", "sim-alibaba-secret")
ALI_ROLE = os.environ.get("SIM_ALIBABA_ROLE_ARN", "acs:ram::1234567890123456:role/sim-exporter")
ALI_OPEN_ROLE = "acs:ram::1234567890123456:role/sim-open"
UNTRUSTED_SECRET = "sim-untrusted-secret"
# STSAssumeRoleCredential hard-codes this region (credentials.md §1.3).
TC_REGION = "ap-guangzhou"
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"

# The SDK models warn about fields they do not know ("... fileds are useless."); here that is
# a failure.
warnings.simplefilter("error")


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


# ------------------------------------------------------------------------------------------
# Tencent


def tc_profile(addr):
    return ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=addr))


def tc_client(addr, secret_id, secret_key, token=None):
    """An StsClient that keeps the raw body of every answer and the headers of every request."""
    client = StsClient(Credential(secret_id, secret_key, token), TC_REGION, tc_profile(addr))
    return recording(client)


def recording(client):
    client.raw, client.sent = [], []
    call, build = client.call, client._build_req_inter

    def call_and_keep(*args, **kwargs):
        body = call(*args, **kwargs)
        client.raw.append(json.loads(body))
        return body

    def build_and_keep(action, params, req, options=None):
        build(action, params, req, options)
        client.sent.append(dict(req.header))

    client.call, client._build_req_inter = call_and_keep, build_and_keep
    return client


def tc_assume_role_request(role_arn, session="sdk-check", duration=3600):
    request = tc_models.AssumeRoleRequest()
    request.RoleArn = role_arn
    request.RoleSessionName = session
    request.DurationSeconds = duration
    return request


def tc_strict(response, model_name):
    """The raw `Response` against the SDK model: only its fields, with their types."""
    check("Error" not in response, f"error answer: {response}")
    model = getattr(tc_models, model_name)()
    known = {name[1:] for name in vars(model)}
    check(set(response) <= known, f"fields the model lacks: {set(response) - known}")
    check(set(response) == known, f"fields missing: {known - set(response)}")
    credentials = response["Credentials"]
    known = {name[1:] for name in vars(tc_models.Credentials())}
    check(set(credentials) == known, f"Credentials has {set(credentials)}, model {known}")
    for name, value in credentials.items():
        check(isinstance(value, str) and value, f"Credentials.{name} {value!r}")
    expired = response["ExpiredTime"]
    check(isinstance(expired, int) and not isinstance(expired, bool), f"ExpiredTime {expired!r}")
    check(expired > time.time(), f"ExpiredTime {expired} is past")
    iso = calendar.timegm(time.strptime(response["Expiration"], ISO_UTC))
    check(iso == expired, f"Expiration {response['Expiration']} is not ExpiredTime {expired}")
    check(isinstance(response["RequestId"], str) and response["RequestId"], "no RequestId")


def tc_refused(call, code):
    try:
        call()
    except TencentCloudSDKException as e:
        check(e.code == code, f"code {e.code} ({e.message}), expected {code}")
        check(e.requestId, f"{code}: no request id")
        return f"{e.code} ({e.message})"
    raise Failed(f"accepted, expected {code}")


def tencent_assume_role(addr):
    client = tc_client(addr, TC_ID, TC_KEY)
    response = client.AssumeRole(tc_assume_role_request(TC_ROLE))
    tc_strict(client.raw[-1]["Response"], "AssumeRoleResponse")
    sent = client.sent[-1]
    check(sent["Authorization"].startswith(f"TC3-HMAC-SHA256 Credential={TC_ID}/"), "not TC3")
    check("/sts/tc3_request" in sent["Authorization"], "credential scope is not sts")
    creds = response.Credentials

    # The temporary credentials sign the next call themselves, with X-TC-Token.
    chained = tc_client(addr, creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    again = chained.AssumeRole(tc_assume_role_request(TC_OPEN_ROLE, "chained"))
    tc_strict(chained.raw[-1]["Response"], "AssumeRoleResponse")
    check(chained.sent[-1].get("X-TC-Token") == creds.Token, "no X-TC-Token sent")
    not_trusted = tc_refused(
        lambda: chained.AssumeRole(tc_assume_role_request(TC_ROLE, "chained")),
        "UnauthorizedOperation",
    )
    return [
        f"  request: POST / X-TC-Action={sent['X-TC-Action']} X-TC-Version={sent['X-TC-Version']} "
        f"X-TC-Region={sent['X-TC-Region']}, {sent['Authorization'].split(',')[0]}",
        f"  answer:  TmpSecretId={creds.TmpSecretId} ExpiredTime={response.ExpiredTime} "
        f"Expiration={response.Expiration}",
        f"  chained: temporary credentials + X-TC-Token assumed sim-open: "
        f"TmpSecretId={again.Credentials.TmpSecretId}; the trusted-only role refused them: "
        f"{not_trusted}",
    ]


def tencent_refused(addr):
    client = tc_client(addr, TC_ID, TC_KEY)
    cases = [
        ("unknown role", tc_assume_role_request(TC_ROLE + "-missing"), client,
         "ResourceNotFound.RoleNotFound"),
        ("untrusted caller", tc_assume_role_request(TC_ROLE),
         tc_client(addr, "SIMTENCENTUNTRUSTED", UNTRUSTED_SECRET), "UnauthorizedOperation"),
        ("DurationSeconds 43201", tc_assume_role_request(TC_ROLE, duration=43201), client,
         "InvalidParameter.OverTimeError"),
        ("RoleSessionName 'bad name'", tc_assume_role_request(TC_ROLE, session="bad name"),
         client, "InvalidParameter.ParamError"),
        ("wrong SecretKey", tc_assume_role_request(TC_ROLE),
         tc_client(addr, TC_ID, TC_KEY + "-wrong"), "AuthFailure.SignatureFailure"),
    ]
    lines = []
    for name, request, sdk, code in cases:
        lines.append(f"  {name}: TencentCloudSDKException "
                     + tc_refused(lambda: sdk.AssumeRole(request), code))
    return lines


def tc_web_identity_client(addr):
    client = CommonClient("sts", "2018-08-13", None, TC_REGION, profile=tc_profile(addr))
    return recording(client)


def web_identity_params(token=TC_WEB_TOKEN, provider=TC_PROVIDER):
    return {
        "ProviderId": provider,
        "WebIdentityToken": token,
        "RoleArn": TC_ROLE,
        # The session name OIDCRoleArnCredential makes from the TKE environment.
        "RoleSessionName": "tencentcloud-python-sdk-" + str(time.time() * 1e6),
        "DurationSeconds": 7200,
    }


def tencent_web_identity(addr):
    client = tc_web_identity_client(addr)
    raw = client.call_json(
        "AssumeRoleWithWebIdentity", web_identity_params(), options={"SkipSign": True}
    )
    tc_strict(raw["Response"], "AssumeRoleWithWebIdentityResponse")
    model = tc_models.AssumeRoleWithWebIdentityResponse()
    model._deserialize(raw["Response"])
    sent = client.sent[-1]
    check(sent.get("Authorization") == "SKIP", f"Authorization {sent.get('Authorization')!r}")
    check("X-TC-Token" not in sent, "X-TC-Token sent")
    creds = model.Credentials
    signer = tc_client(addr, creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    signer.AssumeRole(tc_assume_role_request(TC_OPEN_ROLE, "from-oidc"))

    refused = []
    for name, params, code in [
        ("wrong token", web_identity_params(token="not-the-token"),
         "InvalidParameter.WebIdentityTokenError"),
        ("unknown provider", web_identity_params(provider="elsewhere"),
         "InvalidParameter.ParamError"),
    ]:
        refused.append(f"  {name}: TencentCloudSDKException " + tc_refused(
            lambda: client.call_json("AssumeRoleWithWebIdentity", params,
                                     options={"SkipSign": True}), code))
    return [
        f"  request: POST / X-TC-Action={sent['X-TC-Action']} Authorization={sent['Authorization']}"
        f", no X-TC-Token",
        f"  answer:  TmpSecretId={creds.TmpSecretId} ExpiredTime={model.ExpiredTime} "
        f"Expiration={model.Expiration}; they signed an AssumeRole of sim-open",
    ] + refused


class HttpProfileOverHttp(HttpProfile):
    """The SDK's credential providers build `HttpProfile()` with only an endpoint (https)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scheme = self.protocol = "http"


def tencent_providers(addr):
    tc_credential.HttpProfile = HttpProfileOverHttp
    try:
        sts = tc_credential.STSAssumeRoleCredential(
            TC_ID, TC_KEY, TC_ROLE, "sdk-provider", duration_seconds=3600, endpoint=addr
        )
        sts_id, sts_key, sts_token = sts.get_credential_info()
        check(sts_id and sts_key and sts_token, "STSAssumeRoleCredential gave nothing")
        oidc = tc_credential.OIDCRoleArnCredential(
            TC_REGION, TC_PROVIDER, TC_WEB_TOKEN, TC_ROLE, "sdk-provider", endpoint=addr
        )
        oidc_id, oidc_key, oidc_token = oidc.get_credential_info()
        check(oidc_id and oidc_key and oidc_token, "OIDCRoleArnCredential gave nothing")
    finally:
        tc_credential.HttpProfile = HttpProfile
    # A provider signs like a Credential: the SDK reads the triple on every request.
    client = recording(StsClient(sts, TC_REGION, tc_profile(addr)))
    client.AssumeRole(tc_assume_role_request(TC_OPEN_ROLE, "via-provider"))
    now = time.time()
    return [
        f"  STSAssumeRoleCredential: {sts_id}, refreshes in {sts._expired_time - now:.0f} s "
        f"(ExpiredTime - 0.9 x 3600); signed an AssumeRole with it",
        f"  OIDCRoleArnCredential:   {oidc_id}, refreshes in {oidc._expired_time - now:.0f} s "
        f"(ExpiredTime - 0.1 x 7200)",
    ]


# ------------------------------------------------------------------------------------------
# Alibaba


class AliRecorder:
    """Keeps what the SDK sent (DaraCore.do_action) and the raw body it got back (call_api)."""

    def __init__(self):
        self.sent = []
        self.original = DaraCore.do_action

        def do_action(request, runtime=None):
            self.sent.append(request)
            return self.original(request, runtime)

        DaraCore.do_action = staticmethod(do_action)


def ali_client(addr, key_id, secret, token=None):
    config = ali_openapi.Config(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token,
        endpoint=addr,
        protocol="http",
        read_timeout=10000,
        connect_timeout=5000,
    )
    client = AliStsClient(config)
    client.raw = []
    call_api = client.call_api

    def call_and_keep(*args):
        result = call_api(*args)
        client.raw.append(result["body"])
        return result

    client.call_api = call_and_keep
    return client


def ali_request(role_arn, session="sdk-check", duration=3600):
    return ali_models.AssumeRoleRequest(
        role_arn=role_arn, role_session_name=session, duration_seconds=duration
    )


def ali_strict(client, response):
    raw = client.raw[-1]
    # to_map writes back exactly the fields the model knows; equal means no other field.
    check(response.body.to_map() == raw, f"raw {raw} is not the model's {response.body.to_map()}")
    creds = raw["Credentials"]
    for name in ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"):
        check(isinstance(creds.get(name), str) and creds[name], f"Credentials.{name}")
    expires = calendar.timegm(time.strptime(creds["Expiration"], ISO_UTC))
    check(expires > time.time(), f"Expiration {creds['Expiration']} is past")
    user = raw["AssumedRoleUser"]
    check(user.get("Arn") and user.get("AssumedRoleId"), f"AssumedRoleUser {user}")
    check(raw.get("RequestId"), "no RequestId")


def ali_refused(call, status, code):
    try:
        call()
    except AliClientException as e:
        check((e.status_code, e.code) == (status, code),
              f"{e.status_code} {e.code} ({e.message}), expected {status} {code}")
        check(e.request_id, f"{code}: no request id")
        return f"{e.status_code} {e.code}"
    raise Failed(f"accepted, expected {status} {code}")


def alibaba_assume_role(addr, recorder):
    client = ali_client(addr, ALI_ID, ALI_SECRET)
    response = client.assume_role(ali_request(ALI_ROLE))
    ali_strict(client, response)
    sent = recorder.sent[-1]
    authorization = sent.headers["Authorization"]
    check(authorization.startswith(f"ACS3-HMAC-SHA256 Credential={ALI_ID},"),
          "not ACS3")
    creds = response.body.credentials
    chained = ali_client(addr, creds.access_key_id, creds.access_key_secret,
                         creds.security_token)
    again = chained.assume_role(ali_request(ALI_OPEN_ROLE, "chained"))
    ali_strict(chained, again)
    check(recorder.sent[-1].headers.get("x-acs-security-token") == creds.security_token,
          "no x-acs-security-token sent")
    not_trusted = ali_refused(lambda: chained.assume_role(ali_request(ALI_ROLE, "chained")),
                              403, "NoPermission")
    body = sent.body or ""
    return [
        f"  request: {sent.method} {sent.pathname}?{'&'.join(sorted(sent.query))} "
        f"(body {len(body)} bytes) x-acs-action={sent.headers['x-acs-action']} "
        f"x-acs-version={sent.headers['x-acs-version']}, "
        f"{authorization.split(',')[0]}",
        f"  answer:  {json.dumps(response.body.assumed_role_user.to_map())}, "
        f"AccessKeyId={creds.access_key_id} Expiration={creds.expiration}",
        f"  chained: STS token assumed sim-open (x-acs-security-token); the trusted-only role "
        f"refused it: {not_trusted}",
    ]


def alibaba_refused(addr):
    client = ali_client(addr, ALI_ID, ALI_SECRET)
    cases = [
        ("unknown role", client, ali_request(ALI_ROLE + "-missing"), 404, "EntityNotExist.Role"),
        ("untrusted caller", ali_client(addr, "SIMALIBABAUNTRUSTED", UNTRUSTED_SECRET),
         ali_request(ALI_ROLE), 403, "NoPermission"),
        ("DurationSeconds 899", client, ali_request(ALI_ROLE, duration=899), 400,
         "InvalidParameter.DurationSeconds"),
        ("DurationSeconds 43201", client, ali_request(ALI_ROLE, duration=43201), 400,
         "InvalidParameter.DurationSeconds"),
        ("RoleSessionName 'a+b'", client, ali_request(ALI_ROLE, session="a+b"), 400,
         "InvalidParameter.RoleSessionName"),
        ("wrong secret", ali_client(addr, ALI_ID, ALI_SECRET + "-wrong"), ali_request(ALI_ROLE),
         400, "SignatureDoesNotMatch"),
    ]
    return [
        f"  {name}: ClientException " + ali_refused(lambda: sdk.assume_role(req), status, code)
        for name, sdk, req, status, code in cases
    ]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    addr = sys.argv[1]
    # requests would send loopback requests through a proxy from the environment.
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    recorder = AliRecorder()
    checks = [
        ("Tencent AssumeRole (StsClient, TC3 service sts)", lambda: tencent_assume_role(addr)),
        ("Tencent AssumeRole refused", lambda: tencent_refused(addr)),
        ("Tencent AssumeRoleWithWebIdentity (CommonClient, SkipSign)",
         lambda: tencent_web_identity(addr)),
        ("Tencent credential providers", lambda: tencent_providers(addr)),
        ("Alibaba AssumeRole (alibabacloud-sts20150401, ACS3)",
         lambda: alibaba_assume_role(addr, recorder)),
        ("Alibaba AssumeRole refused", lambda: alibaba_refused(addr)),
    ]
    failed = 0
    for name, run in checks:
        try:
            lines = run()
            print(f"PASS {name}")
            print("\n".join(lines))
        except Exception as e:  # a failure of one check should not hide the others'
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
