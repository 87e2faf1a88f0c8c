#!/usr/bin/env python3
"""Points Huawei Cloud's official Python SDK clients at the simulator and checks that each
task-list API the simulator serves is one the SDK can call and read.

For each API: every page of a time window through the SDK's own operation (so the SDK's
signer, path, query names and deserialiser are the ones used), then

- the SDK's model has the tasks, with id, status, name and creation time set and well formed,
  and `total_count` (where the answer has one) equal to what the pages added up to;
- strictly, every field of the raw answer is one the SDK's model declares, with the JSON type
  the model declares (the SDK itself silently ignores unknown fields and converts types);
- a wrong secret key is the SDK's ClientRequestException, status 401, error_code APIGW.0301.

Usage: huawei.py HOST:PORT   (the line `cargo run -p cloud-task-simulator --example serve`
prints). The account is SIM_HUAWEI_AK, SIM_HUAWEI_SK and SIM_HUAWEI_PROJECT, or the
defaults the example uses. Exits non-zero if any check fails.
"""

import json
import os
import sys
import warnings
from datetime import datetime, timedelta, timezone

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkdds.v3 import DdsClient
from huaweicloudsdkdds.v3 import ListTasksRequest as DdsListTasksRequest
from huaweicloudsdkgaussdb.v3 import GaussDBClient, ListImmediateJobsRequest
from huaweicloudsdkgaussdbforopengauss.v3 import GaussDBforopenGaussClient
from huaweicloudsdkgaussdbforopengauss.v3 import ListTasksRequest as OgListTasksRequest
from huaweicloudsdkrds.v3 import ListTasksRequest as RdsListTasksRequest
from huaweicloudsdkrds.v3 import RdsClient

AK = os.environ.get("SIM_HUAWEI_AK", "SIMHUAWEIAK0000000001")
SK = os.environ.get("SIM_HUAWEI_SK", "sim-huawei-secret-key")
PROJECT = os.environ.get("SIM_HUAWEI_PROJECT", "0123456789abcdef0123456789abcdef")
STATUSES = {"Running", "Completed", "Failed"}
# `yyyy-mm-ddThh:mm:ssZ` with Z a numeric offset such as +0800, as every model's docstring says.
ZONED = "%Y-%m-%dT%H:%M:%S%z"

# The SDK converts what it cannot read with a warning; here that is a failure.
warnings.simplefilter("error")


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def millis(t):
    return str(int(t.timestamp() * 1000))


def zoned(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


# Each API: the client, how to ask for one page, where the tasks are, and which task fields are
# its id, name, status and creation time. `page(n, limit, start, end)` numbers pages from 0.
APIS = [
    {
        "name": "RDS ListTasks GET /v3/{project_id}/tasklist",
        "client": RdsClient,
        "page": lambda n, limit, start, end: RdsListTasksRequest(
            offset=n * limit, limit=limit, start_time=millis(start), end_time=millis(end)
        ),
        "limit": 10,
        "list": "tasks",
        "total": "total_count",
        "fields": ("id", "name", "status", "create_time"),
    },
    {
        "name": "GaussDB(openGauss) ListTasks GET /v3/{project_id}/tasks",
        "client": GaussDBforopenGaussClient,
        "page": lambda n, limit, start, end: OgListTasksRequest(
            offset=n * limit, limit=limit, start_time=millis(start), end_time=millis(end)
        ),
        "limit": 10,
        "list": "tasks",
        "total": "total_count",
        "fields": ("job_id", "name", "status", "created_at"),
    },
    {
        "name": "TaurusDB ListImmediateJobs GET /v3/{project_id}/immediate-jobs",
        "client": GaussDBClient,
        # offset is the page number from 1; both are strings in this SDK.
        "page": lambda n, limit, start, end: ListImmediateJobsRequest(
            offset=str(n + 1), limit=str(limit), start_time=zoned(start), end_time=zoned(end)
        ),
        "limit": 10,
        "list": "jobs",
        "total": "total_count",
        "fields": ("job_id", "job_name", "status", "created_time"),
    },
    {
        "name": "DDS ListTasks GET /v3.1/{project_id}/jobs",
        "client": DdsClient,
        "page": lambda n, limit, start, end: DdsListTasksRequest(
            start_time=zoned(start), end_time=zoned(end), offset=n * limit, limit=limit
        ),
        "limit": 10,
        "list": "jobs",
        # The SDK's model has total_count; the simulator leaves it out (see its huawei_dds.rs).
        "total": None,
        "fields": ("id", "name", "status", "created_at"),
    },
]


def client(api, addr, sk, sent):
    handler = HttpHandler().add_request_handler(lambda request, **_: sent.append(request))
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    return (
        api["client"]
        .new_builder()
        .with_credentials(BasicCredentials(AK, sk, PROJECT))
        .with_endpoints([f"http://{addr}"])
        .with_http_config(config)
        .with_http_handler(handler)
        .build()
    )


def operation(client):
    """The SDK operation of the request type: `list_tasks` or `list_immediate_jobs`."""
    return client.list_immediate_jobs if isinstance(client, GaussDBClient) else client.list_tasks


def strict(raw, openapi_type, models, path, problems):
    """Checks raw JSON against the SDK's declared type, recording every mismatch."""
    if raw is None:
        return
    if openapi_type.startswith("list["):
        if not isinstance(raw, list):
            problems.append(f"{path}: {type(raw).__name__}, SDK type {openapi_type}")
            return
        for i, item in enumerate(raw):
            strict(item, openapi_type[5:-1], models, f"{path}[{i}]", problems)
        return
    if openapi_type.startswith("dict("):
        if not isinstance(raw, dict):
            problems.append(f"{path}: {type(raw).__name__}, SDK type {openapi_type}")
        return
    primitive = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if openapi_type in primitive:
        ok = isinstance(raw, primitive[openapi_type])
        if openapi_type == "int" and isinstance(raw, bool):
            ok = False
        if not ok:
            problems.append(f"{path}: {json.dumps(raw)}, SDK type {openapi_type}")
        return
    if openapi_type == "object":
        return
    model = getattr(models, openapi_type)
    if not isinstance(raw, dict):
        problems.append(f"{path}: {type(raw).__name__}, SDK model {openapi_type}")
        return
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, value in raw.items():
        if key not in by_json:
            problems.append(f"{path}.{key}: not in SDK model {openapi_type}")
            continue
        strict(value, model.openapi_types[by_json[key]], models, f"{path}.{key}", problems)


def run(api, addr):
    sent = []
    sdk = client(api, addr, SK, sent)
    models = sys.modules[type(sdk).__module__.rsplit(".", 1)[0]]
    response_type = type(api["page"](0, 10, datetime.now(), datetime.now())).__name__.replace(
        "Request", "Response"
    )
    end = datetime.now(timezone.utc)
    start = end - timedelta(days=1)
    limit = api["limit"]
    tasks, totals, pages, problems = [], set(), 0, []
    while True:
        response = operation(sdk)(api["page"](pages, limit, start, end))
        pages += 1
        check(response.status_code == 200, f"status {response.status_code}")
        strict(json.loads(response.raw_content), response_type, models, "$", problems)
        page = getattr(response, api["list"])
        check(isinstance(page, list), f"{api['list']} is {page!r}, not a list")
        tasks += page
        if api["total"]:
            totals.add(getattr(response, api["total"]))
        if len(page) < limit:
            break
        check(pages < 100, "more than 100 pages")
    check(not problems, "answer does not match the SDK's model:\n    " + "\n    ".join(problems))
    check(tasks, "no tasks in the last day")
    check(pages > 1, f"only one page of {limit}: paging not exercised")
    id_field, name_field, status_field, created_field = api["fields"]
    for task in tasks:
        for field in api["fields"]:
            check(getattr(task, field), f"{type(task).__name__}.{field} empty: {task}")
        check(task.status in STATUSES, f"status {task.status!r}")
        created = datetime.strptime(getattr(task, created_field), ZONED)
        check(start <= created <= end, f"{created_field} {created} outside the window")
    ids = [getattr(t, id_field) for t in tasks]
    check(len(set(ids)) == len(ids), "a task is on two pages")
    if api["total"]:
        check(totals == {len(tasks)}, f"total_count {totals}, pages held {len(tasks)}")

    wrong = client(api, addr, SK + "-wrong", [])
    try:
        operation(wrong)(api["page"](0, limit, start, end))
        raise Failed("a wrong SK was accepted")
    except ClientRequestException as e:
        check(e.status_code == 401, f"wrong SK: status {e.status_code}")
        check(e.error_code == "APIGW.0301", f"wrong SK: error_code {e.error_code}")
        check(e.request_id, "wrong SK: no request id")
        denied = f"{e.status_code} {e.error_code} ({e.error_msg})"

    statuses = {}
    for task in tasks:
        statuses[task.status] = statuses.get(task.status, 0) + 1
    first = sent[0]
    # A finished task shows more of the model than a running one.
    sample = next((t for t in tasks if t.status == "Failed"), tasks[0])
    return [
        f"  request: GET {first.uri}",
        f"  signed:  {first.header_params['Authorization'].split(',')[0]}, "
        f"X-Project-Id={first.header_params.get('X-Project-Id')}",
        f"  read:    {len(tasks)} tasks in {pages} pages of {limit}"
        + (f", total_count={totals.pop()}" if api["total"] else "")
        + f", statuses {statuses}",
        f"  sample:  {json.dumps(sample.to_dict(), ensure_ascii=False)}",
        f"  wrong SK: ClientRequestException {denied}",
    ]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    addr = sys.argv[1]
    # requests would send loopback requests through a proxy from the environment.
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    failed = 0
    for api in APIS:
        try:
            lines = run(api, addr)
            print(f"PASS {api['name']}")
            print("\n".join(lines))
        except Exception as e:  # a failure of one API should not hide the others'
            failed += 1
            print(f"FAIL {api['name']}: {type(e).__name__}: {e}")
    print(f"{len(APIS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
