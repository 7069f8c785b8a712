-- The 50 principals with the most denied calls since 7 days ago (UTC days), ranked by their total, each with every operation denied to it and its count, most denied first: probing across many operations, or a broken deployment.
WITH denied AS (
    SELECT
        coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
        eventsource,
        eventname
    FROM cloudtrail
    WHERE timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
      AND (errorcode LIKE '%UnauthorizedOperation' OR errorcode LIKE 'AccessDenied%')
),
by_operation AS (
    SELECT principal, eventsource, eventname, count(*) AS denied_calls
    FROM denied
    GROUP BY 1, 2, 3
),
top_principals AS (
    SELECT principal, sum(denied_calls) AS principal_denied_calls, count(*) AS operations
    FROM by_operation
    GROUP BY 1
    ORDER BY principal_denied_calls DESC, principal
    LIMIT 50
)
SELECT
    t.principal,
    t.principal_denied_calls,
    t.operations,
    o.eventsource,
    o.eventname,
    o.denied_calls
FROM top_principals t
JOIN by_operation o ON o.principal IS NOT DISTINCT FROM t.principal
ORDER BY t.principal_denied_calls DESC, t.principal, o.denied_calls DESC, o.eventsource, o.eventname;
