"""Which Linkis the gateway behaves as: `1.x` (release-1.8.0, the default) or `0.x` (0.11.0).

Every difference between the two lives here as one flag, so a handler asks `gw.profile.<flag>`
instead of comparing version strings. Each flag names the Linkis file the difference comes from.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROFILES", "Profile", "TooManyServices", "get_profile", "route_0x_entrance"]


@dataclass(frozen=True)
class Profile:
    name: str
    # resultsetToExcel: 1.x reads `csvSeparator` (and still the old `csvSeperator`); 0.x only the
    # misspelt one (FsRestfulApi.java at 0.11.0 vs release-1.8.0).
    csv_separator_param: bool
    # resultsetToExcel/resultsetsToExcel `limit` parameter: added in 1.x.
    download_limit_param: bool
    # openLog / entrance log: 1.x numbers log files from 1 (LogReader), 0.x from 0.
    log_file_one_based: bool
    # resultsetToExcel `nullValue` parameter: 1.x only.
    null_value_param: bool
    # /entrance/{taskID}/... with the numeric job-history id: 1.x (EntranceRestfulApi
    # `realExecId` handling); 0.x knows only the execID.
    taskid_in_path: bool
    # jobhistory `progress`: 1.x QueryTaskVO has a String progress, 0.x a Float.
    history_progress_as_string: bool
    # /entrance/{id}/killJobs: added in 1.x EntranceRestfulApi.
    kill_jobs: bool
    # /entrance/{id}/progressWithResource: added to EntranceRestfulApi in 1.1.2.
    progress_with_resource: bool
    # One `linkis-cg-entrance` for every engine, with /entrance/submit and engine-version labels
    # (1.x). 0.x ran one entrance per engine (sparkEntrance, ...), which the 0.11.0 gateway picks
    # by executeApplicationName (EntranceGatewayRouter.scala); /entrance/submit has no backend.
    unified_entrance: bool
    # The session cookie (ServerConfiguration.LINKIS_SERVER_SESSION_TICKETID_KEY).
    ticket_cookie: str
    # How the gateway's SecurityFilter words a failed /user/* request. From 1.x ErrorException is
    # a RuntimeException, no longer a LinkisException, so it gets the "login failed! reason:" prefix.
    user_error_prefix: bool
    # spring.application.name of the gateway: the serviceKind in its exception texts.
    gateway_service_kind: str
    # Versions an /entrance/execute engine gets on 0.x (no engine plugins, so no installed list).
    default_versions: tuple[tuple[str, str], ...]
    # 1.x: the entrance logs how LinkisManager gave the job its engine ("Request LinkisManager:",
    # "Succeed to create new ec :" or "reuse", "Task submit to ec"; ComputationEngineConnManager
    # and CodeLogicalUnitExecTask in linkis-computation-orchestrator). 0.x's EngineRequester
    # worded it otherwise.
    engine_ask_log: bool
    # SQLLimitEntranceInterceptor (gateway/sql_limit.py), in the entrance's default interceptors of
    # both: release-1.8.0 limits the creators of wds.linkis.sql.limit.creator and warns the others;
    # 0.11.0 (ujes/entrance/.../interceptor/impl/SQLLimitEntranceInterceptor.scala) limited every
    # creator's hql/sql/jdbc/hive/psql/essql job, with a warning per statement naming it.
    sql_limit_release: str


PROFILES: dict[str, Profile] = {
    "1.x": Profile(
        name="1.x",
        csv_separator_param=True,
        download_limit_param=True,
        log_file_one_based=True,
        null_value_param=True,
        taskid_in_path=True,
        history_progress_as_string=True,
        kill_jobs=True,
        progress_with_resource=True,
        unified_entrance=True,
        ticket_cookie="linkis_user_session_ticket_id_v1",
        user_error_prefix=True,
        gateway_service_kind="linkis-mg-gateway",
        default_versions=(),
        engine_ask_log=True,
        sql_limit_release="1.8.0",
    ),
    "0.x": Profile(
        name="0.x",
        csv_separator_param=False,
        download_limit_param=False,
        log_file_one_based=False,
        null_value_param=False,
        taskid_in_path=False,
        history_progress_as_string=False,
        kill_jobs=False,
        progress_with_resource=False,
        unified_entrance=False,
        ticket_cookie="bdp-user-ticket-id",
        user_error_prefix=False,
        gateway_service_kind="DataWorkCloud-Gateway",
        default_versions=(("spark", "2.4.3"), ("hive", "2.3.3"), ("python", "python3"), ("shell", "1")),
        engine_ask_log=False,
        sql_limit_release="0.11.0",
    ),
}


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None


class TooManyServices(Exception):
    """0.11.0 TooManyServiceException (errCode 11010): the service id names several entrances."""


def route_0x_entrance(service_id: str, entrances: list[str]) -> str | None:
    """The entrance a 0.11.0 gateway sends `service_id` to, None when none matches.

    Any service whose name contains the id (case-insensitively) matches; of several, only the one
    containing "entrance" is taken (AbstractGatewayRouter.findService, EntranceGatewayRouter).
    """
    matches = [s for s in entrances if service_id.lower() in s.lower()]
    if len(matches) == 1:
        return matches[0]
    matches = [s for s in matches if "entrance" in s.lower()]
    if len(matches) > 1:
        # A Scala List prints as List(a, b).
        raise TooManyServices(f"Cannot find a correct serviceId for parsedServiceId {service_id}, "
                              f"service list is: List({', '.join(matches)})")
    return matches[0] if matches else None
