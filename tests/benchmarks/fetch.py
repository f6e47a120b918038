"""One read of a big result set, in a fresh process so that its peak memory is its own.

    python -m tests.benchmarks.fetch MODE CONFIG_JSON

MODE is `ours` (Job.attach(...).results(): pages to a typed DataFrame), `floor` (plain
`requests` + `json`, the same openFile pages, no conversion) or `sdk` (linkis-python-sdk 0.2.0
reading the job's result directory as its execute_code does once the job is done). Prints one
JSON line: seconds, rows, peak memory over the process's size before the read, and the size of
what was read. MODE `page` instead times the client's two steps on one page: JSON parsing and
conversion to typed columns.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any, Callable


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def ours(cfg: dict[str, Any]) -> tuple[int, Callable[[], int]]:
    from linkis_jupyter.client import LinkisClient
    from linkis_jupyter.job import Job

    client = LinkisClient(gateway_url=cfg["url"], user=cfg["user"], token=cfg["token"])
    frame = Job.attach(client, cfg["task_id"]).results()[0].data
    return len(frame), lambda: int(frame.memory_usage(deep=True).sum())


def floor(cfg: dict[str, Any]) -> tuple[int, Callable[[], int]]:
    import requests

    session = requests.Session()
    headers = {"Token-Code": cfg["token"], "Token-User": cfg["user"]}
    url = cfg["url"] + "/api/rest_j/v1/filesystem/openFile"
    pages, rows, page = [], 0, 1
    while True:
        params = {"path": cfg["path"], "page": page, "pageSize": cfg["page_size"]}
        content = session.get(url, params=params, headers=headers, timeout=120).json()["data"]["fileContent"]
        pages.append(content)
        rows += len(content)
        if len(content) < cfg["page_size"]:
            return rows, lambda: 0
        page += 1


def sdk(cfg: dict[str, Any]) -> tuple[int, Callable[[], int]]:
    import requests
    from linkis_python_sdk.client import LinkisClient
    from linkis_python_sdk.config.config import LinkisConfig
    from linkis_python_sdk.core import data_resolve

    client = LinkisClient(LinkisConfig(cfg["url"] + "/api/rest_j/v1", cfg["user"], cfg["password"]))
    # execute_code's steps after its job has finished: login, list the result directory, read
    # every file, resolve to rows (the job itself is run once through execute_code elsewhere).
    session = requests.Session()
    client._login(session)
    files = client._get_file_dir(session, {"resultLocation": cfg["result_location"]})
    result_sets = client._query_result_set(session, files)
    data, _total = data_resolve.resolve_data(result_sets, {"columns": [{"column": c} for c in cfg["columns"]]})
    return len(data), lambda: int(result_sets[0].to_pandas().memory_usage(deep=True).sum())


def page(cfg: dict[str, Any]) -> dict[str, float]:
    """Where one 100,000-row page's time goes on the client: JSON parsing and conversion."""
    import statistics

    import requests

    from linkis_jupyter.client import LinkisClient
    from linkis_jupyter.results import NULL_MARKERS, TableBuilder, columns_from_metadata

    headers = {"Token-Code": cfg["token"], "Token-User": cfg["user"]}
    url = cfg["url"] + "/api/rest_j/v1/filesystem/openFile"
    number = 2 if cfg["rows"] > cfg["page_size"] else 1
    params = {"path": cfg["path"], "page": number, "pageSize": cfg["page_size"]}
    content = requests.get(url, params=params, headers=headers, timeout=120).content
    client = LinkisClient(gateway_url=cfg["url"], user=cfg["user"], token=cfg["token"])
    result = client.open_file(cfg["path"], number, cfg["page_size"], null_markers=(None, *NULL_MARKERS))
    columns = columns_from_metadata(result.metadata)
    parse, convert = [], []
    for _ in range(3):
        start = time.perf_counter()
        json.loads(content)
        parse.append(time.perf_counter() - start)
        builder = TableBuilder(columns)
        start = time.perf_counter()
        builder.add(result.rows, result.absent)
        convert.append(time.perf_counter() - start)
    return {"parse": statistics.median(parse), "convert": statistics.median(convert), "rows": len(result.rows)}


def main(argv: list[str]) -> int:
    mode, cfg = argv[0], json.loads(argv[1])
    if mode == "page":
        print(json.dumps(page(cfg)))
        return 0
    read = {"ours": ours, "floor": floor, "sdk": sdk}[mode]
    # Imports first, so that the measured memory is the read's own.
    if mode == "ours":
        import pandas  # noqa: F401

        import linkis_jupyter.job  # noqa: F401
        import linkis_jupyter.results  # noqa: F401
    elif mode == "sdk":
        import linkis_python_sdk.client  # noqa: F401
    import requests  # noqa: F401

    before = rss_bytes()
    start = time.perf_counter()
    rows, size = read(cfg)
    seconds = time.perf_counter() - start
    peak = max(0, peak_bytes() - before)
    print(json.dumps({"mode": mode, "seconds": seconds, "rows": rows,
                      "peak_bytes": peak, "frame_bytes": size()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
